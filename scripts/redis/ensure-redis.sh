#!/usr/bin/env bash
# Makes sure a `redis-server` binary is on PATH for the dedup contract tests,
# which start their own throwaway server (testkit/redis.ts). Idempotent:
# when the binary is already there nothing touches the network.
#
# Only the binary is wanted. The Debian package's service is not started
# (the machines that run the tests have no systemd, and a shared server on
# :6379 would let tests see each other's keys).
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-redis: redis-server is missing and apt-get is not available; install Redis >= 6.2 by hand" >&2
  exit 1
fi

sudo=""
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "ensure-redis: redis-server is missing and installing it needs root" >&2
    exit 1
  fi
fi

# policy-rc.d exit 101 tells invoke-rc.d not to start the service the package ships.
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  made_policy=1
fi
cleanup() { if [[ "$made_policy" == 1 ]]; then $sudo rm -f "$policy"; fi; }
trap cleanup EXIT

$sudo apt-get update -qq
$sudo apt-get install -y -qq redis-server >/dev/null

if ! command -v redis-server >/dev/null 2>&1; then
  echo "ensure-redis: apt-get finished but redis-server is still not on PATH" >&2
  exit 1
fi
