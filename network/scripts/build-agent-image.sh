#!/usr/bin/env bash
# Build the edge agent image mecfab/agent:latest locally (no registry, nothing pulled).
# usage: build-agent-image.sh
#   1. a Debian bookworm rootfs (debootstrap --variant=minbase, python3 + pip from Debian), cached
#      as a tarball under $MECFAB_CACHE/agent/ and imported once as mecfab/agent-base:bookworm;
#   2. wheels built on the host with the venv's pip: this project, and exactly the versions the
#      venv holds of the libraries an agent imports (grpc, protobuf, cryptography, pydantic, ...);
#   3. network/images/agent.Dockerfile installs them offline.
# A second run reuses the cached rootfs and Docker's layer cache.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${MECFAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mecfab}
suite=bookworm
# the host's own Debian mirror (the first URI apt is configured with), unless DEBIAN_MIRROR says otherwise
host_mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)
[ -n "$host_mirror" ] || host_mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
mirror=${DEBIAN_MIRROR:-$host_mirror}
base=mecfab/agent-base:$suite
image=${MECFAB_AGENT_IMAGE:-mecfab/agent:latest}
pip="$repo/.venv/bin/pip"
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
start=$(date +%s)

[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt: set DEBIAN_MIRROR"
docker info >/dev/null 2>&1 || die "Docker does not answer: run 'make setup' (it installs and starts dockerd)"
[ -x "$pip" ] || die "no venv at $repo/.venv: run 'make venv'"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---- 1. the base rootfs --------------------------------------------------------------------
tarball="$cache/agent/$suite-minbase-python3.tar"
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || {
    log "installing debootstrap (apt)"
    { apt-get update -qq && apt-get install -y -q debootstrap; } >/dev/null || die "cannot install debootstrap: apt-get install debootstrap"
  }
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  log "debootstrap $suite (minbase + python3) from $mirror"
  debootstrap --variant=minbase --include=python3,python3-pip "$suite" "$work/rootfs" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  mkdir -p "$cache/agent"
  tar -C "$work/rootfs" --numeric-owner -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
  rm -rf "$work/rootfs"
fi
# drop_old <image id>: remove a previous build once nothing names it any more (a container may still use it)
drop_old() { [ -n "$1" ] && [ -z "$(docker image inspect -f '{{.RepoTags}}' "$1" 2>/dev/null | tr -d '[]')" ] \
  && docker rmi "$1" >/dev/null 2>&1 || true; }
stamp=$(sha256sum "$tarball" | cut -c1-12)
if [ "$(docker image inspect -f '{{index .Config.Labels "mecfab.rootfs"}}' "$base" 2>/dev/null)" != "$stamp" ]; then
  log "importing $tarball as $base"
  old_base=$(docker image inspect -f '{{.Id}}' "$base" 2>/dev/null || true)
  docker import -c "LABEL mecfab.rootfs=$stamp" -c 'ENV LANG=C.UTF-8' "$tarball" "$base" >/dev/null
fi

# ---- 2. wheels -----------------------------------------------------------------------------
ctx="$work/context"
mkdir -p "$ctx/wheels"
# The agent's import closure: these roots and what they require, at the versions in the venv.
pins=$("$repo/.venv/bin/python" - <<'PY'
import importlib.metadata as md
import re
from packaging.requirements import Requirement

roots = ["hyperledger-fabric-protos", "grpcio", "protobuf", "cryptography", "pyyaml", "pydantic", "typer", "rich", "docker"]
seen: dict[str, str] = {}
todo = list(roots)
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen:
        continue
    dist = md.distribution(name)
    seen[name] = dist.version
    for spec in dist.requires or []:
        req = Requirement(spec)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            todo.append(req.name)
print("\n".join(f"{n}=={v}" for n, v in sorted(seen.items())))
PY
)
log "building wheels: mec-fabric + $(echo "$pins" | wc -l) libraries"
# from a copy of the sources, so the build leaves nothing (build/, *.egg-info) in the work tree
mkdir -p "$work/src"
cp -r "$repo/pyproject.toml" "$repo/README.md" "$repo/orchestrator" "$work/src/"
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
# shellcheck disable=SC2086
"$pip" wheel -q --no-deps --no-build-isolation -w "$ctx/wheels" "$work/src" $pins >"$work/wheel.log" 2>&1 \
  || { tail -20 "$work/wheel.log" >&2; die "pip wheel failed"; }

# ---- 3. the image --------------------------------------------------------------------------
log "image $image"
old_image=$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)
DOCKER_BUILDKIT=0 docker build -q --force-rm -f "$repo/network/images/agent.Dockerfile" --build-arg "BASE=$base" \
  -t "$image" --label "org.opencontainers.image.source=mec-fabric" "$ctx" >/dev/null 2>"$work/build.log" \
  || { cat "$work/build.log" >&2; die "docker build of $image failed"; }
drop_old "$old_image"
drop_old "${old_base:-}"
log "agent image ready in $(( $(date +%s) - start )) s"
