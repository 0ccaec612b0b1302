#!/usr/bin/env bash
# Runs every fuzz target of the chaincode for a short time each (one target
# per `go test -fuzz` run: Go allows no more). FUZZTIME (default 5s) and
# FUZZPARALLEL (default: Go's, i.e. GOMAXPROCS workers) tune it.
# FUZZMINIMIZE (default 10x: ten runs) bounds the minimization of each new
# input: an input of FuzzLifecycle drives a whole transaction sequence, and
# Go's default (60s per input) would spend all of FUZZTIME minimizing.
set -euo pipefail
cd "$(dirname "$0")"
fuzztime="${FUZZTIME:-5s}"
minimize="${FUZZMINIMIZE:-10x}"
parallel=()
if [[ -n "${FUZZPARALLEL:-}" ]]; then parallel=(-parallel "$FUZZPARALLEL"); fi
for pkg in ./mectask; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		echo "fuzz $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "${parallel[@]}" "$pkg"
	done
done
