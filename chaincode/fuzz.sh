#!/usr/bin/env bash
# Runs every fuzz target of the chaincode for a short time each (one target
# per `go test -fuzz` run: Go allows no more). FUZZTIME (default 5s) and
# FUZZPARALLEL (default: Go's, i.e. GOMAXPROCS workers) tune it.
# FUZZMINIMIZE (default 10x: ten runs) bounds the minimization of each new
# input: an input of FuzzLifecycle drives a whole transaction sequence, and
# Go's default (60s per input) would spend all of FUZZTIME minimizing.
#
# Go before 1.27 can end a run that found nothing with a bare "context
# deadline exceeded" when -fuzztime expires while a worker is busy
# (golang/go#75804). Such a run wrote no failing input; it is run once more.
# Any other failure, and a second such ending, fails the script.
set -euo pipefail
cd "$(dirname "$0")"
fuzztime="${FUZZTIME:-5s}"
minimize="${FUZZMINIMIZE:-10x}"
parallel=()
if [[ -n "${FUZZPARALLEL:-}" ]]; then parallel=(-parallel "$FUZZPARALLEL"); fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# deadline_flake LOG: the run ended only by Go's fuzztime race (no failing input, no test failure).
deadline_flake() {
	grep -q 'context deadline exceeded' "$1" &&
		! grep -Eq 'Failing input written to|panic:|_test\.go:[0-9]+:' "$1"
}

for pkg in ./mectask; do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
		for attempt in 1 2; do
			echo "fuzz $pkg $target ($fuzztime)"
			if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" \
				"${parallel[@]}" "$pkg" 2>&1 | tee "$log"; then
				break
			fi
			if [[ $attempt == 1 ]] && deadline_flake "$log"; then
				echo "fuzz $pkg $target: ended by Go's fuzztime race (golang/go#75804), no failing input: once more"
				continue
			fi
			exit 1
		done
	done
done
