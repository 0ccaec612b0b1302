#!/usr/bin/env bash
# Build Toxiproxy's server (the TCP proxy that emulates edge links) from its Go module, cached by version.
# usage: build-toxiproxy.sh   (version: TOXIPROXY_VERSION from network/versions.env)
# Prints the directory holding bin/toxiproxy-server.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../versions.env
. "$here/versions.env"
version=$TOXIPROXY_VERSION
cache=${MECFAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mecfab}
out="$cache/toxiproxy/$version"
if [ -f "$out/.complete" ]; then
  echo "$out"; exit 0
fi
echo "building Toxiproxy $version into $out" >&2
json=$(go mod download -json "github.com/Shopify/toxiproxy/v2@$version")
dir=$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "error: go mod download did not give a module directory:" >&2; echo "$json" >&2; exit 1; }
rm -rf "$out.tmp" && mkdir -p "$out.tmp/bin"
# the module cache is read-only; -mod=mod resolves the module's dependencies through the proxy
(cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X github.com/Shopify/toxiproxy/v2.Version=$version" \
  -o "$out.tmp/bin/toxiproxy-server" ./cmd/server)
touch "$out.tmp/.complete"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
