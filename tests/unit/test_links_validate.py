"""validate-model without Docker: predictions come from the simulator's equations, points and files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from orchestrator.links.validate import QUICK, TxSample, plot, predict, summarize, write_results
from orchestrator.sim.config import SimConfig
from orchestrator.sim.model import block_generation_latency


def test_prediction_is_eq2_plus_eq5_and_the_fabric_terms() -> None:
    c = SimConfig()
    p = predict(edges=4, delay_ms=50, rate_mbit=10, block_bits=40_000, txs_per_block=1, batch_timeout_s=0.25)
    assert p.block_s == pytest.approx(block_generation_latency(1, c.cycles_per_hash, 2.5e9))
    assert p.consensus_s == pytest.approx(40_000 / 10e6 + c.ack_bits / 10e6)
    assert p.model_s == pytest.approx(p.block_s + p.consensus_s)
    assert p.fabric_s == pytest.approx(p.model_s + 0.25 + 0.05)
    slower = predict(edges=4, delay_ms=50, rate_mbit=1, block_bits=40_000, txs_per_block=1, batch_timeout_s=0.25)
    assert slower.consensus_s == pytest.approx(10 * p.consensus_s)
    alone = predict(edges=1, delay_ms=0, rate_mbit=10, block_bits=40_000, txs_per_block=1, batch_timeout_s=0)
    assert alone.consensus_s == 0.0  # one node: no consensus (quorum 0)


def _samples(measured_ms: list[float]) -> list[TxSample]:
    return [
        TxSample(
            edges=2,
            delay_ms=50,
            rate_mbit=2.0,
            tx_id=f"t{i}",
            block=10 + i,
            block_bytes=5000,
            endorse_ms=3.0,
            submit_ms=m / 4,
            commit_ms=3 * m / 4,
        )
        for i, m in enumerate(measured_ms)
    ]


def test_summary_errors_and_result_files(tmp_path: Path) -> None:
    samples = _samples([400.0, 410.0, 420.0, 430.0, 900.0])
    r = summarize(samples, batch_timeout_s=0.25)
    assert r.measured_median_ms == 420.0 and r.measured_p95_ms == 900.0
    assert r.predicted_model_ms == pytest.approx(1000 * (5000 * 8 / 2e6 + 8000 / 2e6), abs=0.1)
    assert r.error_model_ms == pytest.approx(420.0 - r.predicted_model_ms, abs=0.02)
    assert r.predicted_fabric_ms == pytest.approx(r.predicted_model_ms + 250 + 50, abs=0.02)
    write_results(tmp_path, grid=QUICK, samples=samples, results=[r], started=0.0)
    rows = list(csv.DictReader((tmp_path / "points.csv").open()))
    assert rows[0]["measured_median_ms"] == "420.0" and "error_fabric_pct" in rows[0]
    assert len(list(csv.DictReader((tmp_path / "transactions.csv").open()))) == 5
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["points"][0]["edges"] == 2 and summary["grid"]["edges"] == [2, 4]
    plot(tmp_path / "p.png", [r])
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
