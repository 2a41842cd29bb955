#!/usr/bin/env bash
# Makes sure Debian's `chromium` is installed for the operator console's browser
# test (test/integration/console-browser.test.ts drives it with playwright-core
# through its executablePath: browser downloads are never used). Idempotent:
# when the binary is already there nothing touches the network.
set -euo pipefail

CHROMIUM="${THREATRELAY_CHROMIUM:-/usr/bin/chromium}"
if [[ -x "$CHROMIUM" ]]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and apt-get is not available; install Chromium by hand" >&2
  exit 1
fi

sudo=""
if [[ "$(id -u)" != 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "ensure-chromium: $CHROMIUM is missing and installing it needs root" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
if [[ ! -x "$CHROMIUM" ]]; then
  echo "ensure-chromium: chromium installed, but $CHROMIUM is not there (set THREATRELAY_CHROMIUM)" >&2
  exit 1
fi
