"""Issue 7, bad input at the CLI: malformed, oversized and hostile arguments to every `mecfab task`
command, against the live network. Each one ends with a clear error and a non-zero exit (no
traceback, no crash) and nothing reaches the ledger: every peer keeps its height."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator import task_cli
from orchestrator.cli import app
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec

from . import waits

pytestmark = pytest.mark.integration

HOSTILE_IDS = [
    "",
    " ",
    "\x00",
    "t\x00-1",
    "a" * 5000,
    "../../etc/passwd",
    "t\u202e1",
    "\U0001f600" * 64,
    '{"taskId":"x"}',
    "t-1\n--org Cloud",
    "\udcff\udcfe",  # argv bytes that are not UTF-8 arrive as lone surrogates
    "t-1'; DROP TABLE tasks; --",
    "%s%n%x",
    "-" * 3,
]
HOSTILE_NUMBERS = ["-1", "0", "abc", "1e9", "99999999999999999999999999", "", "0x10", "NaN"]
HOSTILE_ORGS = ["", "Nobody", "Cloud\x00", "Edge1MSP" * 200, "orderer", "Orderer", "../Edge1"]


def _cases(rng: random.Random, tmp: Path) -> Iterator[list[str]]:
    big = tmp / "big.bin"
    big.write_bytes(rng.randbytes(3 * 1024 * 1024))  # over the chaincode's transient limit
    pick = rng.choice
    for tid in HOSTILE_IDS:
        yield ["task", "show", tid]
        yield ["task", "settle", tid]
        yield ["task", "expire", tid]
        yield ["task", "accept", tid]
        yield ["task", "request", "--id", tid]
        yield ["task", "offer", tid, "--org", "Edge2", "--price", pick(["1", "5"])]
        yield ["task", "dispute", tid, pick(["", "x" * 10_000, "\x00", "reason"])]
        yield ["task", "shortlist", tid, pick(["Cloud", "Edge1", "EdgeX", "Edge2"])]
        yield ["task", "award", tid, pick(["Cloud", "Nobody", "Edge2"])]
        yield ["task", "transfer", tid, pick(["Cloud", "Nobody", "Edge2"])]
        yield ["task", "reassign", tid, "--deadline", pick(["-5", "0", "10"])]
        yield ["task", "result", tid, "--org", "Edge2", "--file", str(pick([tmp / "missing", tmp, big]))]
    for number in HOSTILE_NUMBERS:
        yield ["task", "request", "--cycles", number]
        yield ["task", "request", "--deadline", number]
        yield ["task", "request", "--max-price", number]
        yield ["task", "offer", "t-none", "--org", "Edge2", "--seconds", number]
        yield ["task", "award", "t-none", "Edge2", "--price", number]
        yield ["task", "accept", "t-none", "--max-escrow", number]
    for org in HOSTILE_ORGS:
        yield ["task", "request", "--org", org]
        yield ["task", "settle", "t-none", "--org", org]
        yield ["task", "show", "t-none", "--org", org]
        yield ["task", "balance", org]
    yield ["task", "request", "--payload", str(big)]  # over the transient limit
    yield ["task", "request", "--payload", str(tmp / "missing")]
    yield ["task", "shortlist", "t-none"] + ["Edge1"] * 40
    yield ["task", "nonsense"]


def test_hostile_cli_arguments_fail_cleanly_and_write_nothing(
    live_network: NetworkSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(task_cli, "spec", lambda *args, **kwargs: live_network)
    with Ledger.connect(live_network, "Edge1") as edge1:  # so `task request` registers nothing
        if not edge1.edge_registered("Edge1MSP"):
            edge1.register_edge(cpu_cycles_per_sec=2_000_000_000, memory_mb=2048, price_per_gigacycle=1)
    before = waits.wait_converged(live_network)  # the registration (or an earlier block) on every peer
    runner = CliRunner()
    exits: dict[int, int] = {}
    cases = list(_cases(random.Random(7), tmp_path))
    for argv in cases:
        result = runner.invoke(app, argv)
        said = result.stdout + result.stderr
        where = f"mecfab {' '.join(a[:40] for a in argv)!r}"
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{where} crashed: {result.exception!r}"
        )
        assert result.exit_code != 0, f"{where} was accepted: {said[:300]}"
        assert "Traceback" not in said, f"{where} printed a traceback"
        assert "error" in said.lower() or "usage" in said.lower(), f"{where} gave no clear error: {said[:300]}"
        exits[result.exit_code] = exits.get(result.exit_code, 0) + 1
    after = waits.wait_converged(live_network)  # a block written through one peer reaches them all
    assert after == before, f"heights {before} -> {after}: a hostile call was written"
    print(f"\n{len(cases)} hostile CLI calls, exit codes {dict(sorted(exits.items()))}, ledger unchanged")
