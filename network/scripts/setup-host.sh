#!/usr/bin/env bash
# Make this machine able to run mec-fabric: a Docker engine that answers, Compose v2,
# busybox-static (the shell inside our FROM-scratch images) and the Python virtualenv.
# Idempotent: each step is skipped when already satisfied. Needs root for apt and dockerd.
# --browser also installs Debian's chromium (the benchmark report is checked in it by the tests).
set -euo pipefail
want_browser=0
[ "${1:-}" = "--browser" ] && want_browser=1
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/network/versions.env"
cache=${MECFAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mecfab}
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  [ "$(id -u)" = 0 ] || die "installing $* needs root (run as root or install it yourself)"
  if [ $apt_updated = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Docker engine
if ! docker info >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null; then
    log "installing Debian's docker.io"
    apt_install docker.io iptables ca-certificates
  fi
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd (log: $cache/dockerd.log)"
    mkdir -p "$cache"
    nohup dockerd >"$cache/dockerd.log" 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || die "dockerd did not answer within 30 s; see $cache/dockerd.log"
  fi
fi

# 2. busybox-static: copied into every image as /bin/sh
if ! dpkg -s busybox-static >/dev/null 2>&1; then
  log "installing busybox-static"
  apt_install busybox-static
fi

# 3. Compose v2 as a CLI plugin, built from its Go module when missing
if ! docker compose version >/dev/null 2>&1; then
  plugin_dir=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
  built="$cache/compose/$COMPOSE_VERSION/docker-compose"
  if [ ! -x "$built" ]; then
    log "building docker compose $COMPOSE_VERSION from its Go module (a few minutes, once)"
    json=$(go mod download -json "github.com/docker/compose/v2@$COMPOSE_VERSION")
    dir=$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -d "$dir" ] || die "go mod download of compose failed: $json"
    mkdir -p "$(dirname "$built")"
    (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$COMPOSE_VERSION" -o "$built.tmp" ./cmd)
    mv "$built.tmp" "$built"
  fi
  mkdir -p "$plugin_dir"
  cp "$built" "$plugin_dir/docker-compose"
  docker compose version >/dev/null 2>&1 || die "docker compose does not run after install"
fi
# 4. ip (iproute2) and nsenter (util-linux): the swarm tests run a Docker engine of their own in a
#    network namespace (orchestrator/netns_engine.py); minimal images may lack them
if ! command -v ip >/dev/null; then
  log "installing iproute2 (ip netns, for the swarm tests' own engine)"
  apt_install iproute2
fi
if ! command -v nsenter >/dev/null; then
  log "installing util-linux (nsenter, for the swarm tests' own engine)"
  apt_install util-linux
fi
# 5. chromium, only for the tests (headless check of the HTML report)
if [ $want_browser = 1 ] && ! command -v chromium >/dev/null; then
  log "installing Debian's chromium (headless report check)"
  apt_install chromium
fi
log "docker: $(docker version --format '{{.Server.Version}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /')"
