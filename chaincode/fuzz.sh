#!/usr/bin/env bash
# Runs every fuzz target of the chaincode for a short time each (one target
# per `go test -fuzz` run: Go allows no more). FUZZTIME (default 5s) and
# FUZZPARALLEL (default: Go's, i.e. GOMAXPROCS workers) tune it.
set -euo pipefail
cd "$(dirname "$0")"
fuzztime="${FUZZTIME:-5s}"
parallel=()
if [[ -n "${FUZZPARALLEL:-}" ]]; then parallel=(-parallel "$FUZZPARALLEL"); fi
for pkg in ./mectask; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		echo "fuzz $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "${parallel[@]}" "$pkg"
	done
done
