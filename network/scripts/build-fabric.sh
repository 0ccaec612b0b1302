#!/usr/bin/env bash
# Build Hyperledger Fabric's own binaries from its Go module, cached by version.
# usage: build-fabric.sh [VERSION]   (default: FABRIC_VERSION_DEFAULT from network/versions.env)
# Prints the directory holding bin/ and config/ (the module's sampleconfig).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../versions.env
. "$here/versions.env"
version=${1:-${FABRIC_VERSION:-$FABRIC_VERSION_DEFAULT}}
var="FABRIC_MODULE_${version//./_}"
module_version=${!var:-}
if [ -z "$module_version" ]; then
  echo "error: Fabric $version is not pinned in network/versions.env (known: $(grep -o '^FABRIC_MODULE_[0-9_]*' "$here/versions.env" | sed 's/FABRIC_MODULE_//; s/_/./g' | tr '\n' ' '))" >&2
  exit 2
fi
cache=${MECFAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mecfab}
out="$cache/fabric/$version"
tools="peer orderer osnadmin configtxgen cryptogen configtxlator discover ledgerutil"
[ "$version" = 2.5.0 ] && tools="peer orderer osnadmin configtxgen cryptogen configtxlator discover"
if [ -f "$out/.complete" ]; then
  echo "$out"; exit 0
fi
echo "building Fabric $version ($module_version) into $out" >&2
start=$(date +%s)
json=$(go mod download -json "github.com/hyperledger/fabric@$module_version")
dir=$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir" ] || { echo "error: go mod download did not give a module directory:" >&2; echo "$json" >&2; exit 1; }
rm -rf "$out.tmp" && mkdir -p "$out.tmp/bin" "$out.tmp/config"
pkgs=""
for t in $tools; do pkgs="$pkgs ./cmd/$t"; done
# the module cache is read-only and may ship a partial vendor/ (2.5.0): -mod=mod ignores it
(cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
  -ldflags "-s -w -X github.com/hyperledger/fabric/common/metadata.Version=$version" \
  -o "$out.tmp/bin/" $pkgs)
cp "$dir/sampleconfig/core.yaml" "$dir/sampleconfig/orderer.yaml" "$dir/sampleconfig/configtx.yaml" "$out.tmp/config/"
cp -r "$dir/sampleconfig/msp" "$out.tmp/config/msp"
chmod -R u+w "$out.tmp"
touch "$out.tmp/.complete"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "built Fabric $version in $(( $(date +%s) - start )) s" >&2
echo "$out"
