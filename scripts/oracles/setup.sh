#!/usr/bin/env bash
# Creates (once) the Python venv the oracle tests run fastavro in, and prints
# its python. Idempotent: a venv whose installed requirements match the pinned
# file is reused without touching the network. Also fetches (once) the
# Compose Specification's JSON schema the compose test validates against
# (compose-spec.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.cache/oracle-venv"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"

mkdir -p "$root/.cache"
# Test workers may call this at the same time; one builds, the others wait for it.
exec 9>"$root/.cache/oracle-venv.lock"
flock 9
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  python3 -m venv "$venv" >/dev/null
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" >"$stamp"
fi

bash "$here/compose-spec.sh" >/dev/null

echo "$venv/bin/python"
