"""Synthetic benchmark data for the other ``test_bench_*`` files: records, rounds and a whole results folder
(no network). The tests at the end check that the synthetic folder is what a real run writes."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from orchestrator.bench.records import TxRecord, TxStatus
from orchestrator.bench.results import ResultsWriter
from orchestrator.bench.sampler import ResourceSample

NAN = math.nan


def write(
    seq: int,
    *,
    start: float,
    latency: float,
    label: str = "r",
    status: TxStatus = TxStatus.VALID,
    block: int = 1,
    endorse: float = 0.01,
    order: float = 0.02,
    scheduled: float | None = None,
    worker: int = 0,
) -> TxRecord:
    """A write whose phases add up to ``latency``: endorse, order, then commit for the rest."""
    failed = status not in (TxStatus.VALID, TxStatus.INVALID)
    return TxRecord(
        round=label,
        worker=worker,
        seq=seq,
        org="Edge1MSP",
        kind="submit",
        function="RequestTask",
        tx_id=f"tx{seq}",
        scheduled=start if scheduled is None else scheduled,
        start=start,
        endorsed=NAN if status is TxStatus.ENDORSE_FAILED else start + endorse,
        submitted=NAN if failed else start + endorse + order,
        end=start + latency,
        status=status.value,
        validation_code=0 if status is TxStatus.VALID else (11 if status is TxStatus.INVALID else -1),
        validation={TxStatus.VALID: "VALID", TxStatus.INVALID: "MVCC_READ_CONFLICT"}.get(status, ""),
        block=block if not failed else -1,
        error="" if status is TxStatus.VALID else f"{status.value} happened",
    )


def read(seq: int, *, start: float, latency: float, label: str = "q", ok: bool = True) -> TxRecord:
    return TxRecord(
        round=label,
        worker=0,
        seq=seq,
        org="Edge2MSP",
        kind="evaluate",
        function="ReadTask",
        tx_id=f"q{seq}",
        scheduled=start,
        start=start,
        endorsed=NAN,
        submitted=NAN,
        end=start + latency,
        status=(TxStatus.OK if ok else TxStatus.EVALUATE_FAILED).value,
        validation_code=-1,
        validation="",
        block=-1,
        error="" if ok else "evaluate failed: NOT_FOUND",
    )


def round_meta(
    label: str,
    *,
    index: int,
    start: float,
    end: float,
    kind: str = "submit",
    workload: str = "request-task",
    tps: float | None = 10.0,
    closed: bool = False,
    cpu_s: float = 0.5,
    waits: int = 0,
    sent: int = 0,
) -> dict[str, Any]:
    return {
        "index": index,
        "label": label,
        "workload": workload,
        "kind": kind,
        "rate": {"type": "fixed-load", "transaction_load": 4} if closed else {"type": "fixed-rate", "tps": tps},
        "closed": closed,
        "nominal_tps": None if closed else tps,
        "tx_count": sent,
        "duration_s": None,
        "start": start,
        "end": end,
        "sent": sent,
        "succeeded": sent,
        "failed": 0,
        "main_cpu_s": 0.1,
        "workers": [
            {
                "worker": 0,
                "start_at": start,
                "sending_done": end - 1,
                "finished": end,
                "cpu_s": cpu_s,
                "sent": sent,
                "max_in_flight_seen": 5,
                "in_flight_waits": waits,
                "rates": [],
            },
        ],
    }


def resources(start: float, end: float) -> list[ResourceSample]:
    """One sample per second per container; peers burn 0.3 CPU s/s, orderers 0.1, chaincode 0.02."""
    rows = []
    t = start - 1.0
    while t <= end + 1.0:
        for name, role, rate, mem in (
            ("peer0.edge1.mec", "peer", 0.3, 100.0),
            ("peer0.edge2.mec", "peer", 0.3, 120.0),
            ("orderer1.orderer.mec", "orderer", 0.1, 50.0),
            ("cc.edge1.mec", "chaincode", 0.02, 8.0),
        ):
            cpu_s = rate * (t - start + 10)
            rows.append(ResourceSample(t, "", name, role, rate * 100, cpu_s, mem, 1e6 * t, 2e6 * t, 0.0, 0.0))
        rows.append(ResourceSample(t, "", "host", "host", 150.0, 1.5 * t, 0.0, 0, 0, 0, 0))
        rows.append(ResourceSample(t, "", "loadgen", "loadgen", 20.0, 0.2 * t, 200.0, 0, 0, 0, 0))
        t += 1.0
    return rows


def fabric(height0: int, height1: int) -> dict[str, Any]:
    def node(h: int, count: int) -> list[dict[str, Any]]:
        return [
            {"name": "ledger_blockchain_height", "labels": {"channel": "mec"}, "value": h},
            {"name": "endorser_proposal_duration_sum", "labels": {"channel": "mec"}, "value": count * 0.004},
            {"name": "endorser_proposal_duration_count", "labels": {"channel": "mec"}, "value": count},
            {"name": "fabric_version", "labels": {"version": "3.1.1"}, "value": 1},
        ]

    def orderer(leader: int) -> list[dict[str, Any]]:
        return [{"name": "consensus_etcdraft_is_leader", "labels": {"channel": "mec"}, "value": leader}]

    return {
        "before": {"nodes": {"peer0.edge1.mec": node(height0, 100), "orderer1.orderer.mec": orderer(1)}},
        "after": {"nodes": {"peer0.edge1.mec": node(height1, 300), "orderer1.orderer.mec": orderer(1)}},
    }


def results_folder(folder: Path, *, version: str = "3.1.1", slow: float = 1.0) -> Path:
    """A complete results folder: three write rounds at 10/20/40 tx/s (the last saturated) and one read round."""
    records: list[TxRecord] = []
    rounds: list[dict[str, Any]] = []
    t = 1000.0
    seq = 0
    for index, tps in enumerate((10.0, 20.0, 40.0)):
        label = f"write-{int(tps)}"
        n = 40
        start = t
        for i in range(n):
            latency = (0.2 + 0.01 * (i % 10)) * slow * (3 if tps == 40 else 1)
            status = TxStatus.INVALID if (tps == 40 and i % 20 == 0) else TxStatus.VALID
            records.append(write(seq, start=start + i / tps, latency=latency, label=label, status=status, block=i // 5))
            seq += 1
        end = start + n / tps + 1.0
        rounds.append(round_meta(label, index=index, start=start, end=end, tps=tps, sent=n))
        t = end + 1.0
    start = t
    for i in range(50):
        records.append(read(seq, start=start + i / 50, latency=0.005 * slow, label="read-50", ok=i != 7))
        seq += 1
    end = start + 2.0
    rounds.append(
        round_meta("read-50", index=3, start=start, end=end, kind="evaluate", workload="read-task", tps=50.0, sent=50)
    )
    with ResultsWriter(folder) as writer:
        writer.write_config({"name": "synthetic", "description": "made up", "workers": 1, "rounds": []})
        writer.write_meta(
            {
                "name": "synthetic",
                "fabric_version": version,
                "fabric_version_reported": version,
                "started": "now",
                "git": {"commit": "0123456789abcdef", "dirty": False},
                "host": {"cpu_count": 2, "cpu_model": "test"},
                "complete": True,
            }
        )
        writer.append_records([r.as_row() for r in records])
        writer.write_rounds(rounds)
        writer.write_resources(resources(1000.0, end))
        writer.write_fabric_metrics({r["label"]: fabric(10, 20) for r in rounds})
    return folder


def test_the_synthetic_folder_has_every_file_a_run_writes(tmp_path: Path) -> None:
    from orchestrator.bench.layout import FILES

    folder = results_folder(tmp_path / "r")
    for name in (FILES.config, FILES.meta, FILES.rounds, FILES.records_csv, FILES.resources, FILES.fabric_metrics):
        assert (folder / name).is_file(), name


def test_a_synthetic_write_has_consistent_phases() -> None:
    rec = write(1, start=10.0, latency=0.5)
    assert rec.start < rec.endorsed < rec.submitted < rec.end
    assert rec.latency == 0.5
    assert asdict(rec)["status"] == "valid"
