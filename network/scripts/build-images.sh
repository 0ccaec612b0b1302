#!/usr/bin/env bash
# Build the peer, orderer and chaincode images locally (no registry needed).
# usage: build-images.sh [FABRIC_VERSION]
# Static binaries are compiled on the host and copied into FROM-scratch images with Debian's
# busybox-static as the shell. Docker's layer cache makes a second run a no-op.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
. "$repo/network/versions.env"
version=${1:-${FABRIC_VERSION:-$FABRIC_VERSION_DEFAULT}}
cache=${MECFAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mecfab}
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

docker info >/dev/null 2>&1 || die "Docker does not answer: run 'make setup' (it installs and starts dockerd)"
[ -x /bin/busybox ] || die "/bin/busybox missing: run 'make setup' (installs busybox-static)"

fabric=$("$repo/network/scripts/build-fabric.sh" "$version")
toxiproxy=$("$repo/network/scripts/build-toxiproxy.sh")

gobuild() {  # gobuild <module dir> <output> : static binary
  (cd "$1" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$2" .)
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base_rootfs() {  # base_rootfs <dir>: busybox shell, /tmp, data dirs
  mkdir -p "$1/bin" "$1/tmp" "$1/usr/local/bin" "$1/etc/hyperledger/fabric" "$1/var/hyperledger/production"
  chmod 1777 "$1/tmp"
  cp /bin/busybox "$1/bin/busybox"
  for applet in sh ls cat ps wget env; do ln -s busybox "$1/bin/$applet"; done
}
build() {  # build <name> <dockerfile> <tag>
  log "image $3"
  # the legacy builder (no buildx here); its deprecation notice is noise, real errors are shown
  DOCKER_BUILDKIT=0 docker build -q -f "$repo/network/images/$2" -t "$3" \
    --label "org.opencontainers.image.source=mec-fabric" "$work/$1" >/dev/null 2>"$work/$1.log" \
    || { cat "$work/$1.log" >&2; die "docker build of $3 failed"; }
}

log "compiling the ccaas builder and the chaincode"
gobuild "$repo/network/ccaas-builder" "$work/ccaas"
gobuild "$repo/chaincode" "$work/chaincode.bin"

# peer: vm.endpoint is emptied so the peer registers no Docker health check (there is no Docker
# socket inside); chaincode runs as a service through our external builder.
mkdir -p "$work/peer" && base_rootfs "$work/peer/rootfs"
cp "$fabric/bin/peer" "$work/peer/rootfs/usr/local/bin/"
sed 's#^\([[:space:]]*endpoint:\) unix:///var/run/docker.sock$#\1 ""#' "$fabric/config/core.yaml" \
  >"$work/peer/rootfs/etc/hyperledger/fabric/core.yaml"
grep -q '^[[:space:]]*endpoint: ""$' "$work/peer/rootfs/etc/hyperledger/fabric/core.yaml" \
  || die "could not clear vm.endpoint in Fabric $version's sampleconfig core.yaml"
mkdir -p "$work/peer/rootfs/opt/hyperledger/ccaas_builder/bin"
for step in detect build release; do cp "$work/ccaas" "$work/peer/rootfs/opt/hyperledger/ccaas_builder/bin/$step"; done
build peer peer.Dockerfile "mecfab/fabric-peer:$version"

mkdir -p "$work/orderer" && base_rootfs "$work/orderer/rootfs"
cp "$fabric/bin/orderer" "$work/orderer/rootfs/usr/local/bin/"
cp "$fabric/config/orderer.yaml" "$work/orderer/rootfs/etc/hyperledger/fabric/"
build orderer orderer.Dockerfile "mecfab/fabric-orderer:$version"

mkdir -p "$work/chaincode" && base_rootfs "$work/chaincode/rootfs"
cp "$work/chaincode.bin" "$work/chaincode/rootfs/usr/local/bin/chaincode"
build chaincode chaincode.Dockerfile "mecfab/chaincode-mectask:latest"

# the link proxy (emulated edge links): toxiproxy-server, plus busybox nc for the probe's echo server
mkdir -p "$work/toxiproxy" && base_rootfs "$work/toxiproxy/rootfs"
ln -s busybox "$work/toxiproxy/rootfs/bin/nc"
cp "$toxiproxy/bin/toxiproxy-server" "$work/toxiproxy/rootfs/usr/local/bin/"
build toxiproxy toxiproxy.Dockerfile "mecfab/toxiproxy:$TOXIPROXY_VERSION"
log "images ready for Fabric $version"
