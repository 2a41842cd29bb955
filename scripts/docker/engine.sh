#!/usr/bin/env bash
# A Docker engine and the Compose v2 plugin, for the stack tests and CI.
#
#   engine.sh up   --state DIR   use the running engine, or start one; build `docker compose` if missing
#   engine.sh down --state DIR   stop the engine if `up` with this DIR started it (by its recorded pid)
#   engine.sh status
#
# `up` uses an engine that already answers `docker info` (DOCKER_HOST or the
# default socket). Otherwise, as root with apt-get, it installs Debian's
# docker.io when dockerd is missing and starts dockerd on a socket of its own,
# unix:///run/threatrelay/docker.sock (so other tools on the machine that look
# for the default socket do not pick it up), with its data under the cache
# (images are kept between runs), recording its pid in DIR/dockerd.pid: `down`
# stops that process and no other. On success it prints `DOCKER_HOST=…` on
# stdout when the engine is not at the default socket; export it. Where no
# engine can be had it prints one line saying why and exits 3.
#
# Compose v2 is not packaged in Debian: when `docker compose` is missing, the
# plugin is built from the Go module proxy (github.com/docker/compose/v2 at
# COMPOSE_VERSION, ~2 min on 2 cores), kept in the cache and installed in
# /usr/local/lib/docker/cli-plugins (root) or ~/.docker/cli-plugins.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

COMPOSE_VERSION=v2.40.3
NO_ENGINE=3
OWN_HOST=unix:///run/threatrelay/docker.sock

sub="${1:-}"
[ $# -gt 0 ] && shift
state=""
while [ $# -gt 0 ]; do
  case "$1" in
    --state) state="$2"; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done

no_engine() { echo "no Docker engine: $*"; exit "$NO_ENGINE"; }

start_engine() {
  if ! command -v dockerd >/dev/null; then
    [ "$(id -u)" = 0 ] || no_engine "none is running and dockerd is not installed (installing it needs root)"
    command -v apt-get >/dev/null || no_engine "none is running, dockerd is not installed and there is no apt-get"
    say "installing Debian's docker.io"
    apt-get install -y -q docker.io >"$state/apt-docker.log" 2>&1 ||
      { tail -n 20 "$state/apt-docker.log" >&2; no_engine "apt-get install docker.io failed (log $state/apt-docker.log)"; }
  fi
  [ "$(id -u)" = 0 ] || no_engine "none is running and dockerd needs root to start"
  mkdir -p "$docker_cache/docker"
  say "starting dockerd (data $docker_cache/docker, log $state/dockerd.log)"
  # setsid: the engine is not in the caller's process group, so a Ctrl-C there
  # does not kill it halfway; `down` stops it by its pid.
  mkdir -p /run/threatrelay
  setsid dockerd --host "$OWN_HOST" --data-root "$docker_cache/docker" --exec-root /run/threatrelay/exec \
    --pidfile /run/threatrelay/dockerd.pid >"$state/dockerd.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$state/dockerd.pid"
  export DOCKER_HOST="$OWN_HOST"
  local i
  for i in $(seq 1 120); do
    if engine_up; then
      say "dockerd $(docker version -f '{{.Server.Version}}') answers (pid $pid)"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$state/dockerd.log" >&2; rm -f "$state/dockerd.pid"; die "dockerd exited during start (log $state/dockerd.log)"; }
    sleep 0.5
  done
  stop_engine
  die "dockerd did not answer within 60 s (log $state/dockerd.log)"
}

stop_engine() {
  [ -f "$state/dockerd.pid" ] || return 0
  local pid i
  pid="$(cat "$state/dockerd.pid")"
  if kill -0 "$pid" 2>/dev/null; then
    say "stopping dockerd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    # dockerd stops its containers (10 s each at most) and its containerd.
    for i in $(seq 1 240); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "dockerd (pid $pid) still runs after 120 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$state/dockerd.pid"
}

ensure_compose() {
  if docker compose version >/dev/null 2>&1; then return 0; fi
  local built="$docker_cache/compose/$COMPOSE_VERSION/docker-compose"
  if [ ! -x "$built" ]; then
    command -v go >/dev/null || die "docker compose is missing and there is no Go toolchain to build it"
    local t0 src work
    t0=$(now)
    say "building the Compose $COMPOSE_VERSION plugin from the Go module proxy (~2 min)"
    local log="$state/compose-build.log"
    src="$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION" 2>"$log" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
    [ -d "$src" ] || { tail -n 20 "$log" >&2; die "go mod download did not give a module folder for compose $COMPOSE_VERSION"; }
    work="$(mktemp -d)"
    cp -r "$src/." "$work/"
    chmod -R u+w "$work"
    mkdir -p "$(dirname "$built")"
    (cd "$work" && CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" \
      -o "$built.partial" ./cmd) >>"$log" 2>&1 ||
      { tail -n 20 "$log" >&2; rm -rf "$work"; die "building compose $COMPOSE_VERSION failed (log $log)"; }
    rm -rf "$work"
    mv "$built.partial" "$built"
    say "built compose $COMPOSE_VERSION in $(($(now) - t0)) s ($built)"
  fi
  local plugins=/usr/local/lib/docker/cli-plugins
  [ "$(id -u)" = 0 ] || plugins="$HOME/.docker/cli-plugins"
  mkdir -p "$plugins"
  install -m 0755 "$built" "$plugins/docker-compose"
  docker compose version >/dev/null || die "docker compose does not run after installing $plugins/docker-compose"
}

case "$sub" in
  up)
    [ -n "$state" ] || die "up needs --state DIR (where the pid of an engine it starts is recorded)"
    mkdir -p "$state"
    command -v docker >/dev/null || { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; } ||
      no_engine "no docker command, and installing one needs root and apt-get"
    t0=$(now)
    if engine_up; then
      say "using the running Docker engine $(docker version -f '{{.Server.Version}}') at ${DOCKER_HOST:-the default socket}"
    elif DOCKER_HOST="$OWN_HOST" engine_up; then
      export DOCKER_HOST="$OWN_HOST"
      say "using the engine at $OWN_HOST that an earlier run started (this run will not stop it)"
    else
      start_engine
    fi
    ensure_compose
    say "engine ready in $(($(now) - t0)) s: $(docker compose version --short 2>/dev/null | sed 's/^/compose /')"
    [ -z "${DOCKER_HOST:-}" ] || echo "DOCKER_HOST=$DOCKER_HOST"
    ;;
  down)
    [ -n "$state" ] || die "down needs --state DIR"
    stop_engine
    ;;
  status)
    if engine_up; then echo "running: Docker $(docker version -f '{{.Server.Version}}') at ${DOCKER_HOST:-the default socket}"
    elif DOCKER_HOST="$OWN_HOST" engine_up; then echo "running: DOCKER_HOST=$OWN_HOST"
    else echo "stopped"; exit 1; fi
    ;;
  *) die "usage: engine.sh up|down --state DIR | status" ;;
esac
