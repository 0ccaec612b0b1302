#!/usr/bin/env bash
# The integration stages of `make integration`, each on networks of its own: every stage runs even
# when an earlier one failed; the end lists each stage's time and every failed test; the exit code
# is non-zero when any stage failed. Extra arguments go to every pytest call (e.g. -x, -k ...).
set -uo pipefail
cd "$(dirname "$0")/../.."
PYTEST=${PYTEST:-.venv/bin/pytest}
# The end-to-end tests that also run on a BFT network (issue 12: "the same end-to-end tests as Raft").
BFT_E2E=(tests/integration/test_network.py tests/integration/test_task_lifecycle.py
  tests/integration/test_cli_fuzz.py
  "tests/integration/test_chaos.py::test_leader_kill_under_load_loses_nothing_and_the_audit_passes")

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
summary=()
failed=0

stage() {  # stage NAME DESCRIPTION [VAR=value ...] -- PYTEST-ARGS...
  local name=$1 what=$2
  shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  echo "==> [$name] $what"
  local start=$SECONDS rc
  env "${envs[@]+"${envs[@]}"}" "$PYTEST" -q -rfE "$@" 2>&1 | tee "$logs/$name.log"
  rc=${PIPESTATUS[0]}
  local took=$((SECONDS - start))
  if [ "$rc" = 0 ]; then
    summary+=("$name: passed in $((took / 60)) min $((took % 60)) s")
  else
    failed=1
    summary+=("$name: FAILED (pytest exit $rc) in $((took / 60)) min $((took % 60)) s")
    while IFS= read -r line; do summary+=("    $line"); done < <(grep -E '^(FAILED|ERROR) ' "$logs/$name.log")
  fi
}

stage raft "every integration test but the swarm target's, on Raft ordering" -- \
  tests/integration --ignore=tests/integration/test_swarm.py "$@"
stage bft "the end-to-end tests again, on BFT ordering (4 SmartBFT orderers)" MECFAB_IT_CONSENSUS=bft -- \
  "${BFT_E2E[@]}" "$@"
stage swarm "the swarm target, on a Docker engine of the tests' own (the host engine's swarm mode is never changed)" -- \
  tests/integration/test_swarm.py "$@"

echo "==> integration stages"
printf '  %s\n' "${summary[@]}"
exit "$failed"
