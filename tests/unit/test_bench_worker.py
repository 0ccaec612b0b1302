"""The worker's load loop against a fake gateway: schedules kept, every transaction a record, failures too;
and the resource sampler's arithmetic and its never-overlapping timer."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from orchestrator.bench.config import RoundSpec
from orchestrator.bench.records import TxRecord, TxStatus
from orchestrator.bench.sampler import ResourceSampler, _docker_numbers, _read_time, container_role
from orchestrator.bench.worker import ClientTarget, WorkerSetup, _Worker
from orchestrator.gateway.client import CommitStatus
from orchestrator.gateway.errors import CommitStatusError, EndorseError
from orchestrator.topology import load_topology


class _Queue:
    def __init__(self, items: list[Any] | None = None) -> None:
        self.items = list(items or [])

    def put(self, item: Any) -> None:
        self.items.append(item)

    def get(self) -> Any:
        return self.items.pop(0)


class _FakeContract:
    """Endorse 5 ms, submit 2 ms, commit 20 ms; some transactions fail on purpose."""

    def __init__(self) -> None:
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def new_proposal(self, function: str, *args: str) -> Any:
        contract = self
        n = self.calls
        self.calls += 1

        class Commit:
            async def status(self) -> CommitStatus:
                await asyncio.sleep(0.02)
                contract.in_flight -= 1
                if n % 10 == 5:
                    raise CommitStatusError(code=grpc.StatusCode.DEADLINE_EXCEEDED, message="too slow", tx_id=f"t{n}")
                code = 11 if n % 10 == 7 else 0
                return CommitStatus(
                    tx_id=f"t{n}", code=code, code_name="VALID" if code == 0 else "MVCC", block_number=3
                )

        class Transaction:
            async def submit(self) -> Commit:
                await asyncio.sleep(0.002)
                return Commit()

        class Proposal:
            tx_id = f"t{n}"

            async def endorse(self) -> Transaction:
                contract.in_flight += 1
                contract.max_in_flight = max(contract.max_in_flight, contract.in_flight)
                await asyncio.sleep(0.005)
                if n % 10 == 3:
                    contract.in_flight -= 1
                    raise EndorseError(code=grpc.StatusCode.ABORTED, message="chaincode said no", tx_id=f"t{n}")
                return Transaction()

            async def evaluate(self) -> bytes:
                await asyncio.sleep(0.001)
                return b"{}"

        return Proposal()


def _worker(*, workers: int = 1, worker: int = 0) -> tuple[_Worker, _Queue, _FakeContract]:
    target = ClientTarget("Edge1", "Edge1MSP", "127.0.0.1:1", "peer0.edge1.mec", b"", Path("/nonexistent"))
    setup = WorkerSetup(
        worker=worker,
        workers=workers,
        run_id="bt",
        channel="mec",
        chaincode="mectask",
        clients=(target,),
        max_in_flight=1000,
        commit_timeout_s=5,
    )
    results = _Queue()
    w = _Worker(setup, _Queue(), results)  # type: ignore[arg-type]
    fake = _FakeContract()
    w.contracts = [fake]  # type: ignore[list-item]
    return w, results, fake


def _round(w: _Worker, results: _Queue, spec: RoundSpec) -> tuple[list[TxRecord], Any]:
    async def go() -> None:
        w.commands = _Queue([("go", time.monotonic() + 0.05)])  # type: ignore[assignment]
        await w._round(0, spec)

    asyncio.run(go())
    done = [m for m in results.items if m[0] == "done"]
    assert len(done) == 1
    _, _, label, rows, stats = done[0]
    assert label == spec.label
    return [TxRecord(*row) for row in rows], stats


def test_an_open_round_keeps_its_schedule_and_every_failure_is_a_record() -> None:
    w, results, _ = _worker()
    spec = RoundSpec.model_validate(
        {"label": "r", "tx_count": 40, "rate": {"type": "fixed-rate", "tps": 200}, "workload": "request-task"}
    )
    records, stats = _round(w, results, spec)
    assert len(records) == 40 == stats.sent
    by_status = {s: sum(1 for r in records if r.status == s) for s in {r.status for r in records}}
    assert by_status == {"valid": 28, "endorse_failed": 4, "commit_status_failed": 4, "invalid": 4}
    failed = [r for r in records if r.status == TxStatus.ENDORSE_FAILED]
    assert all("chaincode said no" in r.error and r.tx_id for r in failed)
    valid = [r for r in records if r.status == TxStatus.VALID]
    assert all(r.start <= r.endorsed <= r.submitted <= r.end and r.block == 3 for r in valid)
    lags = sorted(r.start - r.scheduled for r in records)
    assert lags[len(lags) // 2] < 0.01  # sent on schedule: a 200 tx/s open loop, 5 ms apart
    scheduled = sorted(r.scheduled for r in records)
    assert scheduled[-1] - scheduled[0] == pytest.approx(39 / 200)
    assert stats.cpu_s >= 0 and stats.finished >= stats.sending_done


def test_a_closed_round_never_has_more_than_its_load_outstanding() -> None:
    w, results, fake = _worker()
    spec = RoundSpec.model_validate(
        {"label": "c", "tx_count": 30, "rate": {"type": "fixed-load", "transaction_load": 4}, "workload": "list-edges"}
    )
    records, _ = _round(w, results, spec)
    assert len(records) == 30 and all(r.status == "ok" and r.kind == "evaluate" for r in records)
    spec = RoundSpec.model_validate(
        {
            "label": "d",
            "tx_count": 30,
            "rate": {"type": "fixed-load", "transaction_load": 3},
            "workload": "request-task",
        }
    )
    results.items.clear()
    _round(w, results, spec)
    assert fake.max_in_flight <= 3


def test_sequence_numbers_stay_unique_across_rounds() -> None:
    w, results, _ = _worker()
    spec = RoundSpec.model_validate(
        {"label": "a", "tx_count": 5, "rate": {"type": "fixed-rate", "tps": 500}, "workload": "request-task"}
    )
    first, _ = _round(w, results, spec)
    results.items.clear()
    second, _ = _round(w, results, spec.model_copy(update={"label": "b"}))
    assert {r.seq for r in first}.isdisjoint({r.seq for r in second})


# ---- sampler -------------------------------------------------------------------------------------
def test_docker_stats_arithmetic_matches_docker_stats() -> None:
    sample = {
        "read": "2025-01-01T00:00:01.500000000Z",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000_000_000},
            "system_cpu_usage": 20_000_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 2_500_000_000}, "system_cpu_usage": 18_000_000_000},
        "memory_stats": {"usage": 150 * 2**20, "stats": {"inactive_file": 50 * 2**20}},
        "networks": {"eth0": {"rx_bytes": 100, "tx_bytes": 200}, "eth1": {"rx_bytes": 1, "tx_bytes": 2}},
        "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 7}, {"op": "write", "value": 9}]},
    }
    cpu, cpu_s, mem, rx, tx, rd, wr = _docker_numbers(sample)
    assert cpu == pytest.approx(0.5 / 2.0 * 2 * 100)  # 50 % of one core
    assert cpu_s == pytest.approx(3.0)
    assert mem == pytest.approx(100.0)
    assert (rx, tx, rd, wr) == (101, 202, 7, 9)
    assert _read_time(sample) == pytest.approx(1735689601.5)
    assert _read_time({"read": "0001-01-01T00:00:00Z"}) is None


def test_container_roles_come_from_the_topology() -> None:
    t = load_topology()
    assert container_role("orderer2.orderer.mec", t) == "orderer"
    assert container_role("peer0.edge3.mec", t) == "peer"
    assert container_role("cc.cloud.mec", t) == "chaincode"


def test_the_sampler_timer_never_overlaps_and_skips_ticks_that_ran_long(monkeypatch: pytest.MonkeyPatch) -> None:
    sampler = ResourceSampler(project="none", topology=load_topology(), interval_s=0.05, docker=False)
    running = 0
    overlaps = 0
    lock = threading.Lock()

    def slow_sample() -> None:
        nonlocal running, overlaps
        with lock:
            running += 1
            overlaps += running > 1
        time.sleep(0.12)  # longer than two intervals
        with lock:
            running -= 1

    monkeypatch.setattr(sampler, "sample_once", slow_sample)
    with sampler:
        time.sleep(0.5)
    assert overlaps == 0
    assert 2 <= sampler.ticks <= 5
    assert sampler.skipped_ticks >= sampler.ticks - 1


def test_the_sampler_records_host_and_load_generator_cpu() -> None:
    import os

    def burn() -> Iterator[int]:
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            yield 1

    sampler = ResourceSampler(
        project="none", topology=load_topology(), interval_s=0.1, docker=False, loadgen_pids=[os.getpid()]
    )
    with sampler:
        sampler.round = "busy"
        sum(burn())
    roles = {s.role for s in sampler.samples}
    assert {"host", "loadgen"} <= roles
    gen = [s for s in sampler.samples if s.role == "loadgen"]
    assert gen[-1].cpu_s > 0 and gen[-1].mem_mb > 0
    assert any(s.round == "busy" for s in sampler.samples)


def test_each_read_round_seeds_tasks_of_its_own() -> None:
    from collections.abc import Sequence

    from orchestrator.bench.workloads import ReadTaskOptions, make_workload

    written: list[str] = []

    async def submit(client: int, function: str, args: Sequence[str]) -> bool:
        if args[0] in written:
            return False  # the chaincode: task ... already exists
        written.append(args[0])
        return True

    async def two_rounds() -> list[str]:
        calls = []
        for _ in range(2):
            workload = make_workload(
                ReadTaskOptions(type="read-task", seed_tasks=3), worker=0, run_id="b1", clients=["Edge1MSP", "Edge2MSP"]
            )
            await workload.prepare(submit)
            calls.append(workload.call(0).args[0])
        return calls

    first, second = asyncio.run(two_rounds())
    assert len(written) == 6 and first != second
