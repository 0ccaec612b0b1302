"""A fault under load, measured: light load from the benchmark's load generator, a fault injected
and healed on schedule, then what it cost and whether the ledger kept its promises."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from orchestrator import engine
from orchestrator.audit import audit
from orchestrator.bench.config import parse_config
from orchestrator.bench.layout import FILES
from orchestrator.bench.runner import RunObserver, run_benchmark
from orchestrator.chaos.faults import create
from orchestrator.errors import NetworkError
from orchestrator.gateway.deliver import blocks
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec, raft_leaders, status

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
RECOVERED = 0.8  # throughput back to 80 % of the pre-fault baseline


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class ScenarioResult:
    fault: str
    description: str
    tps: float
    baseline_tps: float
    sent: int
    committed: int
    failed: int
    failed_during_fault: int
    leader_change_s: float | None  # inject -> one live leader again (orderer faults)
    recovery_s: float | None  # inject -> committed throughput back to 80 % of baseline
    lost: int  # acknowledged VALID by the client, missing from some peer's ledger
    phantom: int  # reported failed before ordering (refused at endorsement or submit), yet VALID on a ledger
    peers_agree: bool
    audit_ok: bool
    violations: list[str] = field(default_factory=list)
    results_dir: str = ""


def _load_config(fault: str, tps: float, duration_s: float) -> Any:
    return parse_config(
        {
            "name": f"chaos-{fault}",
            "workers": 1,
            "clients": {"orgs": ["Edge1", "Edge2"]},
            "sampler": {"interval_s": 1.0, "docker": False, "fabric_metrics": False},
            "commit_timeout_s": 30,
            "rounds": [
                {
                    "label": "load",
                    "duration_s": duration_s,
                    "rate": {"type": "fixed-rate", "tps": tps},
                    "workload": {"type": "request-task"},
                }
            ],
        },
        source=f"chaos scenario {fault}",
    )


def _wait_leader(spec: NetworkSpec, dead: set[str], timeout: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        leaders = [n for n in raft_leaders(spec) if n.host not in dead]
        if len(leaders) == 1:
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def _valid_tx_ids(spec: NetworkSpec, org: str) -> set[str]:
    with Ledger.connect(spec, org) as ledger:
        return {
            tx.tx_id
            for b in blocks(ledger._gateway, spec.topology.channel)
            for tx in b.transactions
            if tx.validation_code == 0
        }


def _converged(spec: NetworkSpec, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        heights = {n.height for n in status(spec).nodes if n.role == "peer"}
        if len(heights) == 1 and None not in heights:
            return True
        time.sleep(0.5)
    return False


def run_scenario(
    spec: NetworkSpec,
    fault_name: str,
    *,
    out: Path,
    tps: float = 5.0,
    before_s: float = 10.0,
    fault_s: float = 10.0,
    after_s: float = 20.0,
    progress: Progress = _quiet,
) -> ScenarioResult:
    """Run one fault under fixed-rate load; ``out`` receives the load's results folder and result.json."""
    fault = create(fault_name)
    client = engine.connect()
    if _wait_leader(spec, set(), timeout=30) is None:  # e.g. still settling after the previous fault
        raise NetworkError("the network has no single consensus leader before the fault: is it up and healthy?")
    out.mkdir(parents=True, exist_ok=True)
    config = _load_config(fault_name, tps, before_s + fault_s + after_s)
    errors: list[BaseException] = []
    started = threading.Event()

    class Observer(RunObserver):
        def round_started(self, index: int, spec: Any, expected: int | None) -> None:
            started.set()

    def load() -> None:
        try:
            run_benchmark(config, spec, out / "load", observer=Observer())
        except BaseException as exc:  # surfaced after the join
            errors.append(exc)
        finally:
            started.set()

    worker = threading.Thread(target=load, name="chaos-load", daemon=True)
    progress(f"light load at {tps:g} tx/s; fault {fault_name} after {before_s:g} s")
    worker.start()
    started.wait(timeout=120)  # edges registered, worker processes up, the round begun
    if errors:
        raise errors[0]
    time.sleep(before_s)
    t_inject = time.monotonic()
    injected = fault.inject(client, spec)
    progress(injected.description)
    leader_change = None
    if any(s.startswith("orderer") for s in injected.services) and not fault.stops_ordering:
        leader_change = _wait_leader(spec, set(injected.services), timeout=fault_s + 30)
    time.sleep(max(0.0, fault_s - (time.monotonic() - t_inject)))
    if fault.heals:
        fault.heal(client, spec, injected)
        progress(f"healed: {', '.join(injected.services)} back")
    t_heal = time.monotonic()
    if fault.stops_ordering:
        leader_change = _wait_leader(spec, set(), timeout=60)
        leader_change = None if leader_change is None else leader_change + (t_heal - t_inject)
    worker.join(timeout=before_s + fault_s + after_s + 180)
    if errors:
        raise errors[0]
    if worker.is_alive():
        raise NetworkError("the load generator did not finish")

    records = pd.read_csv(out / "load" / FILES.records_csv)
    writes = records[records["kind"] == "submit"]
    valid = writes[writes["status"] == "valid"]
    failed = writes[writes["status"] != "valid"]
    window = (writes["start"] >= t_inject) & (writes["start"] <= t_heal + 2)
    base = valid[(valid["end"] < t_inject) & (valid["end"] >= t_inject - before_s + 2)]
    baseline = len(base) / max(before_s - 2, 1.0)
    recovery = None
    after = valid[valid["end"] >= t_inject]
    for second in range(int(fault_s + after_s) + 1):
        in_bucket = after[(after["end"] >= t_inject + second) & (after["end"] < t_inject + second + 1)]
        if baseline and len(in_bucket) >= RECOVERED * baseline and second > 0:
            recovery = float(second)
            break

    progress("checking every peer's ledger")
    agree = _converged(spec)
    lost = phantom = 0
    early_failures = set(failed[failed["status"].isin(["endorse_failed", "submit_failed"])]["tx_id"])
    for org in spec.topology.peer_orgs:
        on_ledger = _valid_tx_ids(spec, org.name)
        lost += len(set(valid["tx_id"]) - on_ledger)
        phantom += len(early_failures & on_ledger)
    report = audit(spec)
    result = ScenarioResult(
        fault=fault_name,
        description=injected.description,
        tps=tps,
        baseline_tps=round(baseline, 2),
        sent=len(writes),
        committed=len(valid),
        failed=len(failed),
        failed_during_fault=int((window & (writes["status"] != "valid")).sum()),
        leader_change_s=None if leader_change is None else round(leader_change, 2),
        recovery_s=recovery,
        lost=lost,
        phantom=phantom,
        peers_agree=agree,
        audit_ok=report.ok,
        violations=[f"{v.check}: {v.detail}" for v in report.violations],
        results_dir=str(out),
    )
    (out / "result.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
    return result
