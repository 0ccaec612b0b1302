"""The metric math on synthetic records: percentiles, throughput of valid commits only, send rate, phases,
resources per role, the load generator's CPU per transaction, and the findings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from orchestrator.bench.records import RECORD_FIELDS, TxRecord, TxStatus
from orchestrator.report.summary import (
    findings,
    latency_stats,
    loadgen_summary,
    resource_summary,
    round_summary,
)

from .test_bench_fixtures import read, resources, round_meta, write


def _frame(records: list[TxRecord]) -> pd.DataFrame:
    return pd.DataFrame([r.as_row() for r in records], columns=list(RECORD_FIELDS))


def test_percentiles_are_linear_interpolation_and_min_avg_max_are_exact() -> None:
    stats = latency_stats(list(range(1, 101)))
    assert stats == {
        "count": 100,
        "min": 1.0,
        "avg": 50.5,
        "max": 100.0,
        "p50": 50.5,
        "p95": pytest.approx(95.05),
        "p99": pytest.approx(99.01),
    }
    assert latency_stats([0.3])["p99"] == 0.3
    assert latency_stats([float("nan"), 2.0, 4.0])["avg"] == 3.0
    assert latency_stats([])["count"] == 0 and latency_stats([])["p50"] is None


def test_throughput_counts_committed_valid_transactions_only() -> None:
    # 20 sent at 10/s from t=0: 12 valid, 4 committed invalid, 2 endorse failures, 2 commit-status failures
    statuses = [TxStatus.VALID] * 12 + [TxStatus.INVALID] * 4 + [TxStatus.ENDORSE_FAILED] * 2
    statuses += [TxStatus.COMMIT_STATUS_FAILED] * 2
    records = [write(i, start=i / 10, latency=0.5, status=s) for i, s in enumerate(statuses)]
    s = round_summary(_frame(records), round_meta("r", index=0, start=0.0, end=3.0, tps=10.0, sent=20))
    assert s["sent"] == 20 and s["succeeded"] == 12 and s["failed"] == 8
    assert s["statuses"] == {"commit_status_failed": 2, "endorse_failed": 2, "invalid": 4, "valid": 12}
    last_valid_end = 11 / 10 + 0.5
    assert s["throughput_tps"] == pytest.approx(12 / last_valid_end)
    assert s["send_rate_tps"] == pytest.approx(10.0)
    assert s["input_rate_tps"] == 10.0
    assert s["latency_s"]["count"] == 12  # latency of successful transactions only
    assert s["validation_codes"] == {"MVCC_READ_CONFLICT": 4, "VALID": 12}
    assert s["top_errors"][0] == {"error": "invalid happened", "count": 4}


def test_the_phases_of_a_write_add_up_to_its_latency() -> None:
    records = [write(i, start=float(i), latency=0.4 + 0.1 * i, endorse=0.05, order=0.03) for i in range(5)]
    s = round_summary(_frame(records), round_meta("r", index=0, start=0.0, end=6.0, sent=5))
    phases = s["phases_s"]
    assert phases["endorse"]["avg"] == pytest.approx(0.05)
    assert phases["order"]["avg"] == pytest.approx(0.03)
    assert phases["commit"]["avg"] == pytest.approx(np.mean([0.4 + 0.1 * i for i in range(5)]) - 0.08)
    total = sum(phases[p]["avg"] for p in ("endorse", "order", "commit"))
    assert total == pytest.approx(s["latency_s"]["avg"])


def test_send_rate_and_schedule_lag_of_an_open_round() -> None:
    # scheduled every 0.1 s but each actually sent 20 ms late
    records = [write(i, start=i * 0.1 + 0.02, scheduled=i * 0.1, latency=0.3) for i in range(11)]
    s = round_summary(_frame(records), round_meta("r", index=0, start=0.0, end=2.0, sent=11))
    assert s["send_rate_tps"] == pytest.approx(10.0)
    assert s["schedule_lag_s"]["p50"] == pytest.approx(0.02)


def test_a_closed_round_uses_the_measured_send_rate_as_input_rate() -> None:
    records = [write(i, start=i * 0.05, latency=0.2) for i in range(21)]
    meta = round_meta("r", index=0, start=0.0, end=2.0, closed=True, sent=21)
    s = round_summary(_frame(records), meta)
    assert s["target_tps"] is None and s["closed_loop"]
    assert s["input_rate_tps"] == pytest.approx(20.0)
    assert s["schedule_lag_s"] is None


def test_read_rounds_measure_read_latency_and_read_throughput() -> None:
    records = [read(i, start=i / 50, latency=0.01, ok=i != 3) for i in range(50)]
    s = round_summary(_frame(records), round_meta("q", index=0, start=0.0, end=2.0, kind="evaluate", tps=50.0))
    assert s["kind"] == "evaluate" and "phases_s" not in s
    assert s["succeeded"] == 49 and s["failed"] == 1
    assert s["latency_s"]["avg"] == pytest.approx(0.01)
    assert s["throughput_tps"] == pytest.approx(49 / (49 / 50 + 0.01))


def test_resources_per_container_come_from_cumulative_cpu_and_roll_up_per_role() -> None:
    from dataclasses import asdict

    frame = pd.DataFrame([asdict(r) for r in resources(100.0, 110.0)])
    res = resource_summary(frame, 100.0, 110.0)
    assert res["containers"]["peer0.edge1.mec"]["cpu_pct"] == pytest.approx(30.0)
    assert res["roles"]["peer"]["containers"] == 2
    assert res["roles"]["peer"]["cpu_pct_avg"] == pytest.approx(30.0)
    assert res["roles"]["peer"]["cpu_pct_total"] == pytest.approx(60.0)
    assert res["roles"]["peer"]["mem_mb_avg"] == pytest.approx(110.0)
    assert res["roles"]["orderer"]["cpu_pct_avg"] == pytest.approx(10.0)
    assert res["roles"]["chaincode"]["cpu_pct_avg"] == pytest.approx(2.0)
    assert res["host_cpu_pct"] == pytest.approx(150.0)
    assert res["loadgen_cpu_pct"] == pytest.approx(20.0)
    assert "host" not in res["containers"] and "loadgen" not in res["containers"]
    assert resource_summary(pd.DataFrame(), 0, 1)["roles"] == {}


def test_loadgen_cpu_per_transaction_and_findings() -> None:
    meta = round_meta("r", index=0, start=0.0, end=10.0, cpu_s=9.5, waits=3, sent=1000)
    summary = {"succeeded": 1000}
    gen = loadgen_summary(meta, summary)
    assert gen["cpu_s"] == pytest.approx(9.6)  # worker 9.5 + parent 0.1
    assert gen["cpu_ms_per_tx"] == pytest.approx(9.6)
    assert gen["cpu_s_per_1000_tx"] == pytest.approx(9.6)
    assert gen["max_worker_utilization"] == pytest.approx(0.95)
    round_ = {
        "label": "r",
        "loadgen": gen,
        "schedule_lag_s": {"p95": 0.2},
        "target_tps": 100.0,
        "send_rate_tps": 80.0,
        "closed_loop": False,
        "failed": 2,
        "sent": 1000,
        "top_errors": [{"error": "boom", "count": 2}],
        "resources": {"host_cpu_pct": 199.0, "loadgen_cpu_pct": 95.0},
        "host_cores": 2,
    }
    text = " | ".join(findings(round_))
    assert "busy 95% of one core" in text
    assert "max_in_flight cap was reached 3 times" in text
    assert "below the target 100.0" in text
    assert "CPUs were saturated" in text
    assert "2 of 1000 failed; most often: boom" in text
    assert "fell behind the schedule" not in text  # the lag came from the cap, not from the client
    quiet = round_ | {
        "loadgen": gen | {"max_worker_utilization": 0.2, "in_flight_waits": 0},
        "failed": 0,
        "send_rate_tps": 100.0,
        "resources": {},
        "schedule_lag_s": {"p95": 0.001},
    }
    assert findings(quiet) == []
