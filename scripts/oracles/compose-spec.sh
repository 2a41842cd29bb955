#!/usr/bin/env bash
# Fetches (once) the Compose Specification's JSON schema that Docker Compose
# itself validates compose files with, and prints its path. It is the file
# the compose-go module embeds (schema/compose-spec.json), taken from the
# module's zip on the Go module proxy and checked against pinned SHA-256s.
# Idempotent: a cached schema with the pinned digest is reused without
# touching the network.
#
# To move to another compose-go version: set the version, run this with
# COMPOSE_SPEC_PIN=0 to print the new digests, check the zip against the Go
# checksum database (the module's `h1:` line in a go.sum, or
# sum.golang.org/lookup/github.com/compose-spec/compose-go/v2@VERSION), then
# pin both digests below.
set -euo pipefail

version=v2.16.2
# SHA-256 of github.com/compose-spec/compose-go/v2@v2.16.2.zip as the proxy serves it. The
# zip's Go module hash (the go.sum and sum.golang.org form) is
# h1:pTp1DqQwJzFd85GzlWsSszKA1ABrV/ySqsClujIcWA8=
zip_sha256=75410c9723430b920592093014fc53641f6207e01b52c016c848ba62bf2da805
# SHA-256 of schema/compose-spec.json inside it.
schema_sha256=f266dcbb043229405d7cedd5aec918f9102c2b3d5e3850808fdd8edd564a43ff

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="$root/.cache/compose-spec/$version"
schema="$dir/compose-spec.json"
module=github.com/compose-spec/compose-go/v2
url="${GOPROXY_URL:-https://proxy.golang.org}/$module/@v/$version.zip"
member="$module@$version/schema/compose-spec.json"
pin="${COMPOSE_SPEC_PIN:-1}"

die() { echo "compose-spec.sh: $*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

mkdir -p "$root/.cache"
# Test workers may call this at the same time; one fetches, the others wait for it.
exec 8>"$root/.cache/compose-spec.lock"
flock 8

if [[ "$pin" == 1 && -f "$schema" && "$(sha "$schema")" == "$schema_sha256" ]]; then
  echo "$schema"
  exit 0
fi

command -v curl >/dev/null || die "curl is needed to fetch the Compose schema"
command -v python3 >/dev/null || die "python3 is needed to unpack the Compose schema"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/module.zip" "$url" || die "cannot fetch $url"
got="$(sha "$tmp/module.zip")"
if [[ "$pin" != 1 ]]; then
  echo "zip_sha256=$got" >&2
elif [[ "$got" != "$zip_sha256" ]]; then
  die "checksum mismatch for $url (want $zip_sha256, got $got)"
fi
# unzip is not on every machine; Python's zipfile is.
python3 - "$tmp/module.zip" "$member" "$tmp/compose-spec.json" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[3], 'wb') as out:
    out.write(z.read(sys.argv[2]))
EOF
got="$(sha "$tmp/compose-spec.json")"
if [[ "$pin" != 1 ]]; then
  echo "schema_sha256=$got" >&2
elif [[ "$got" != "$schema_sha256" ]]; then
  die "checksum mismatch for $member (want $schema_sha256, got $got)"
fi
mkdir -p "$dir"
mv "$tmp/compose-spec.json" "$schema"
echo "$schema"
