# Shared by scripts/docker/*.sh (sourced, not run).
#
# THREATRELAY_DOCKER_CACHE: the machine-wide cache outside any clone: the
# Docker engine's data (images survive between runs), the Compose plugin
# build, the stand-in images' root file system. Default /var/cache/threatrelay
# as root, else ~/.cache/threatrelay.
if [ "$(id -u)" = 0 ]; then
  docker_cache="${THREATRELAY_DOCKER_CACHE:-/var/cache/threatrelay}"
else
  docker_cache="${THREATRELAY_DOCKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/threatrelay}"
fi
docker_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
docker_repo="$(cd "$docker_here/../.." && pwd)"

say() { echo "$(basename "$0"): $*" >&2; }
die() { say "$*"; exit 1; }

# Seconds since the epoch, for the timings each script reports.
now() { date +%s; }

engine_up() { timeout 20 docker info >/dev/null 2>&1; }
