#!/usr/bin/env bash
# The base images of the compose stack: the official ones where they can be
# had, else local stand-ins built here, cached in the Docker engine.
#
#   images.sh            prints KAFKA_IMAGE=…, REDIS_IMAGE=…, NODE_IMAGE=… (one a line) on stdout
#   images.sh --local    the same, but always the stand-ins (builds them when missing or outdated)
#
# For each image: already in the engine, or pulled (one attempt, 60 s at
# most), it is the official one. Otherwise a stand-in is built under its own
# name, never the official one's:
#   threatrelay-local/debian:bookworm  debootstrap --variant=minbase (the base of the others)
#   threatrelay-local/node:20          + this machine's Node 20 and npm, and its CA bundle
#   threatrelay-local/kafka:4.4.0      + Debian's OpenJDK 17 JRE and Kafka's jars from Maven Central
#   threatrelay-local/redis:7.0        + Debian's redis-server (7.0; Debian has no 7.2)
# Each stand-in carries a label with a digest of its recipe and inputs; it is
# rebuilt only when that changes. The debootstrap root file system is kept as
# a tarball in the cache (THREATRELAY_DOCKER_CACHE, see lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

OFFICIAL_KAFKA=apache/kafka:4.4.0
OFFICIAL_REDIS=redis:7.2-alpine
OFFICIAL_NODE=node:20-bookworm-slim
LOCAL_BASE=threatrelay-local/debian:bookworm
LOCAL_KAFKA=threatrelay-local/kafka:4.4.0
LOCAL_REDIS=threatrelay-local/redis:7.0
LOCAL_NODE=threatrelay-local/node:20
LABEL=org.threatrelay.recipe
stand_ins="$docker_here/stand-ins"
export DOCKER_BUILDKIT=0

local_only=0
[ "${1:-}" = --local ] && local_only=1

engine_up || die "no Docker engine answers (scripts/docker/engine.sh up starts one)"

has_image() { docker image inspect "$1" >/dev/null 2>&1; }
label_of() { docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

# The official image, if it is here or can be pulled.
official() {
  local image="$1" out
  [ "$local_only" = 1 ] && return 1
  has_image "$image" && return 0
  if out="$(timeout 60 docker pull -q "$image" 2>&1)"; then return 0; fi
  say "cannot pull $image ($(echo "$out" | tail -n 1)); using the local stand-in"
  return 1
}

# digest DIR: sha256 over the files' relative names and contents, the same in every clone.
digest() {
  (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

# build NAME RECIPE_DIGEST CONTEXT_DIR [docker build args...]
build() {
  local name="$1" recipe="$2" context="$3" t0
  shift 3
  t0=$(now)
  say "building $name"
  docker build -q --label "$LABEL=$recipe" -t "$name" "$@" "$context" >"$context.log" 2>&1 ||
    { tail -n 30 "$context.log" >&2; die "building $name failed"; }
  say "built $name in $(($(now) - t0)) s"
}

base_image() {
  local tar="$docker_cache/rootfs/bookworm-minbase.tar" recipe
  if [ ! -f "$tar" ]; then
    [ "$(id -u)" = 0 ] || die "building the Debian root file system (debootstrap) needs root"
    if ! command -v debootstrap >/dev/null; then
      say "installing debootstrap"
      apt-get install -y -q debootstrap >/dev/null || die "apt-get install debootstrap failed"
    fi
    local t0 root
    t0=$(now)
    root="$(mktemp -d)"
    say "debootstrap --variant=minbase bookworm (about 30 s)"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1 ||
      { tail -n 20 "$root.log" >&2; rm -rf "$root"; die "debootstrap failed (log $root.log)"; }
    cat >"$root/etc/apt/sources.list" <<'LIST'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
LIST
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    mkdir -p "$(dirname "$tar")"
    tar -C "$root" -cf "$tar.partial" . && mv "$tar.partial" "$tar"
    rm -rf "$root" "$root.log"
    say "root file system ready in $(($(now) - t0)) s ($tar)"
  fi
  recipe="$(sha256sum "$tar" | cut -c1-16)"
  if [ "$(label_of "$LOCAL_BASE")" != "$recipe" ]; then
    docker import --change "LABEL $LABEL=$recipe" --change 'CMD ["bash"]' "$tar" "$LOCAL_BASE" >/dev/null ||
      die "docker import of $tar failed"
    say "imported $LOCAL_BASE"
  fi
}

# A build context in a temp folder, removed on exit.
contexts=()
cleanup() { for c in "${contexts[@]}"; do rm -rf "$c" "$c.log"; done; }
trap cleanup EXIT
new_context() {
  local c
  c="$(mktemp -d)"
  contexts+=("$c")
  cp -r "$stand_ins/$1/." "$c/"
  echo "$c"
}

node_image() {
  local node npm recipe context
  node="$(readlink -f "$(command -v node)")"
  npm="$(dirname "$(readlink -f "$(command -v npm)")")/.."
  npm="$(cd "$npm" && pwd)"
  [ -f "$npm/package.json" ] || die "cannot find npm's folder next to $(command -v npm)"
  "$node" --version | grep -q '^v20\.' || die "the stand-in needs Node 20; $node is $("$node" --version)"
  recipe="$(
    {
      digest "$stand_ins/node"
      sha256sum <"$node"
      sha256sum </etc/ssl/certs/ca-certificates.crt
      cat "$npm/package.json"
      label_of "$LOCAL_BASE"
    } | sha256sum | cut -c1-16
  )"
  [ "$(label_of "$LOCAL_NODE")" = "$recipe" ] && return 0
  context="$(new_context node)"
  cp "$node" "$context/node"
  cp -r "$npm" "$context/npm"
  cp /etc/ssl/certs/ca-certificates.crt "$context/ca-certificates.crt"
  build "$LOCAL_NODE" "$recipe" "$context" --build-arg "BASE_IMAGE=$LOCAL_BASE"
}

kafka_image() {
  local recipe context libs
  recipe="$({ digest "$stand_ins/kafka"; label_of "$LOCAL_BASE"; } | sha256sum | cut -c1-16)"
  [ "$(label_of "$LOCAL_KAFKA")" = "$recipe" ] && return 0
  command -v mvn >/dev/null || die "the Kafka stand-in needs Maven to fetch Kafka's jars"
  libs="$docker_cache/kafka-image/libs-$(sha256sum <"$stand_ins/kafka/pom.xml" | cut -c1-16)"
  if [ ! -d "$libs" ]; then
    say "fetching Kafka's jars with Maven into $libs"
    rm -rf "$libs.partial"
    mvn -q -B -Dstyle.color=never -f "$stand_ins/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs.partial" -DincludeScope=runtime >&2 || die "mvn could not fetch Kafka's jars"
    mv "$libs.partial" "$libs"
  fi
  context="$(new_context kafka)"
  cp -r "$libs" "$context/libs"
  build "$LOCAL_KAFKA" "$recipe" "$context" --build-arg "BASE_IMAGE=$LOCAL_BASE"
}

redis_image() {
  local recipe context
  recipe="$({ digest "$stand_ins/redis"; label_of "$LOCAL_BASE"; } | sha256sum | cut -c1-16)"
  [ "$(label_of "$LOCAL_REDIS")" = "$recipe" ] && return 0
  context="$(new_context redis)"
  build "$LOCAL_REDIS" "$recipe" "$context" --build-arg "BASE_IMAGE=$LOCAL_BASE"
}

t0=$(now)
kafka="$OFFICIAL_KAFKA" redis="$OFFICIAL_REDIS" node="$OFFICIAL_NODE"
need_base=0
official "$OFFICIAL_KAFKA" || { kafka="$LOCAL_KAFKA"; need_base=1; }
official "$OFFICIAL_REDIS" || { redis="$LOCAL_REDIS"; need_base=1; }
official "$OFFICIAL_NODE" || { node="$LOCAL_NODE"; need_base=1; }
if [ "$need_base" = 1 ]; then
  base_image
  [ "$kafka" = "$LOCAL_KAFKA" ] && kafka_image
  [ "$redis" = "$LOCAL_REDIS" ] && redis_image
  [ "$node" = "$LOCAL_NODE" ] && node_image
fi
say "images ready in $(($(now) - t0)) s: kafka $kafka, redis $redis, node $node"
echo "KAFKA_IMAGE=$kafka"
echo "REDIS_IMAGE=$redis"
echo "NODE_IMAGE=$node"
