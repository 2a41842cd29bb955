#!/usr/bin/env bash
# npm run test:stack: the operator's compose stack, run for real
# (test/stack/stack.ts says what is checked).
#
# 1. scripts/docker/engine.sh up: the running Docker engine, or one started
#    here (then stopped again at the end, by its recorded pid);
# 2. scripts/docker/images.sh: the official images, or the local stand-ins;
# 3. test/stack/stack.ts: builds the ThreatRelay image, runs the checks, and
#    always ends with `docker compose down -v`.
# Where no engine can be had (no Docker and not root, or no apt-get) it prints
# `stack: skipped (<reason>)` and exits 0. Otherwise the last line is
# `stack: N passed, M failed`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

state="$(mktemp -d "${TMPDIR:-/tmp}/threatrelay-engine-XXXXXX")"
cleanup() {
  bash "$here/engine.sh" down --state "$state" || true
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
set +e
out="$(bash "$here/engine.sh" up --state "$state")"
rc=$?
set -e
if [ "$rc" = 3 ]; then
  echo "stack: skipped (${out#no Docker engine: })"
  exit 0
fi
[ "$rc" = 0 ] || { echo "stack: the Docker engine could not be set up (engine.sh exited $rc)"; exit "$rc"; }
# The engine's socket, when it is not the default one.
case "$out" in DOCKER_HOST=*) export "DOCKER_HOST=${out#DOCKER_HOST=}" ;; esac
t1=$(date +%s)
images="$(bash "$here/images.sh")"
t2=$(date +%s)
while IFS= read -r line; do export "${line?}"; done <<<"$images"
echo "stack: engine $((t1 - t0)) s, images $((t2 - t1)) s ($KAFKA_IMAGE, $REDIS_IMAGE, $NODE_IMAGE)"
# The classic builder: no buildx here, and no frontend image to pull.
export DOCKER_BUILDKIT=0
set +e
node --import tsx test/stack/stack.ts
rc=$?
set -e
exit "$rc"
