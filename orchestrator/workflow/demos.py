"""Two scenarios of the workflow under change, each checked against the ledger.

* :func:`mobility` (first paper, the mobile user): Edge1 requests a task; while the executor
  runs it, Edge1 hands the requester role to another edge (``TransferOwnership`` with the payload,
  ``AcceptOwnership`` by the new owner's agent, told first to expect it and the escrow it pays),
  which receives the result and settles. Credits:
  the new owner pays, Edge1 ends even, the executor is paid once.
* :func:`fault`: Edge1 requests a task; once its executor has started, that executor's agent is
  killed (``how="kill"``) or cut off the network (``how="partition"``: it keeps running, but
  reaches no peer and the monitor cannot reach it; it is reconnected after the task settled,
  and whatever it then tries for the old task is refused). At the deadline the task expires
  (escrow back to Edge1, executor reputation down), Edge1 puts it up again, the Cloud no longer
  shortlists the unreachable edge, another edge completes it and is paid. Nothing is lost or
  paid twice.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orchestrator.agent.orders import TaskOrder
from orchestrator.errors import ConfigError, NetworkError
from orchestrator.workflow.runner import Session

if TYPE_CHECKING:
    from orchestrator.network import NetworkSpec

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class DemoReport:
    name: str
    task_id: str
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    balances: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        self.checks.append((what, ok, detail))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "task_id": self.task_id,
            "ok": self.ok,
            "checks": [{"check": c, "ok": ok, "detail": d} for c, ok, d in self.checks],
            "timeline": self.timeline,
            "balances": self.balances,
        }


def _wait(what: str, check: Callable[[], bool], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise NetworkError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def _status(session: Session, task_id: str) -> str:
    state = session.cloud_monitor.states().get(task_id)
    return state.status if state else ""


def _running_on(session: Session, msp_id: str, task_id: str) -> bool:
    try:
        return bool(session.fleet.clients[msp_id].status().get("running") == task_id)
    except NetworkError:
        return False


def _timeline(session: Session, task_id: str) -> list[dict[str, Any]]:
    rows = []
    for entry in sorted(session.ledger.task_history(task_id), key=lambda e: e["timestamp"]):
        value = entry.get("value") or {}
        rows.append(
            {
                "time": dt.datetime.fromtimestamp(entry["timestamp"]).strftime("%H:%M:%S"),
                "status": value.get("status", ""),
                "requester": value.get("requester", ""),
                "executor": value.get("executor", ""),
                "pending_owner": value.get("pendingOwner", ""),
                "escrow": value.get("escrow", 0),
                "tx": str(entry.get("txId", ""))[:12],
            }
        )
    return rows


def _deltas(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    return {
        m: {
            "balance": int(after[m]["balance"]) - int(before[m]["balance"]),
            "reputation": int(after[m]["reputation"]) - int(before[m]["reputation"]),
        }
        for m in before
    }


def _cycles_for(session: Session, seconds: float) -> int:
    """Cycles that keep even the fastest edge busy at least ``seconds`` (from the agents' own
    measurements): whichever edge executes, the demo's fault lands while it is still running."""
    rates = [float(c.status().get("effective_hz") or 0) for c in session.fleet.clients.values()]
    return max(1, int(max(rates) * seconds)) if any(rates) else int(3e9 * seconds)


def mobility(spec: NetworkSpec, *, progress: Progress = _quiet, exec_s: float = 8.0) -> DemoReport:
    """See the module doc. ``exec_s`` makes the execution long enough to move the task mid-way."""
    edges = [o.msp_id for o in spec.topology.edge_orgs]
    if len(edges) < 3:
        raise NetworkError("the mobility demo needs at least three edges")
    requester = edges[0]
    task_id = f"mobility-{dt.datetime.now():%m%d%H%M%S}"
    report = DemoReport("mobility", task_id)
    with Session(spec, policy="least-loaded", k=1, progress=progress) as s:
        before = s.balances()
        cycles = _cycles_for(s, exec_s)
        order = TaskOrder(task_id=task_id, cycles=cycles, input_bytes=256 * 1024, deadline_s=240, max_price=10_000)
        s.fleet.clients[requester].originate(order)
        progress(f"{s.fleet.org_name(requester)} requested {task_id} ({cycles / 1e9:g} Gcycles)")
        _wait(f"{task_id} to be awarded", lambda: _status(s, task_id) == "AWARDED", timeout=60)
        executor = s.cloud_monitor.states()[task_id].executor
        _wait(f"{executor} to start {task_id}", lambda: _running_on(s, executor, task_id), timeout=60)
        state = s.cloud_monitor.states()[task_id]
        new_owner = next(m for m in edges if m not in (requester, executor, *state.candidates))
        names = {m: s.fleet.org_name(m) for m in (requester, executor, new_owner)}
        progress(f"{names[executor]} is executing; {names[requester]} moves the task to {names[new_owner]}")
        escrow = int(s.ledger.read_task(task_id).get("escrow", 0))
        s.fleet.clients[new_owner].expect_transfer(task_id, requester, escrow)
        s.fleet.clients[requester].transfer(task_id, new_owner)
        _wait(f"{task_id} to settle", lambda: _status(s, task_id) in ("SETTLED", "DISPUTED", "EXPIRED"), timeout=300)
        task = s.ledger.read_task(task_id)
        after = s.balances()
        audit = s.ledger.audit_credits()
        report.timeline = _timeline(s, task_id)
    deltas = _deltas(before, after)
    report.balances = deltas
    price = int(task["price"])
    report.check("settled", task["status"] == "SETTLED", task["status"])
    report.check("the new owner is the requester", task["requester"] == new_owner, task["requester"])
    report.check(
        "ownership moved while the task was awarded",
        any(r["pending_owner"] == new_owner and r["status"] == "AWARDED" for r in report.timeline),
    )
    report.check("the original requester ends even", deltas[requester]["balance"] == 0, str(deltas[requester]))
    report.check(
        "the new owner paid the price", deltas[new_owner]["balance"] == -price, f"{deltas[new_owner]} vs {price}"
    )
    report.check("the executor was paid once", deltas[executor]["balance"] == price, f"{deltas[executor]} vs {price}")
    report.check("credits conserved", bool(audit.get("balanced")), str(audit))
    return report


FAULT_KINDS = ("kill", "partition")


def fault(
    spec: NetworkSpec,
    *,
    how: str = "kill",
    progress: Progress = _quiet,
    exec_s: float = 4.0,
    deadline_s: int = 25,
) -> DemoReport:
    """See the module doc. The task takes about ``exec_s`` on the slowest edge."""
    if how not in FAULT_KINDS:
        raise ConfigError(f"unknown executor fault {how!r}; choose one of {', '.join(FAULT_KINDS)}")
    edges = [o.msp_id for o in spec.topology.edge_orgs]
    requester = edges[0]
    task_id = f"{how}-{dt.datetime.now():%m%d%H%M%S}"
    report = DemoReport(f"fault-{how}", task_id)
    with Session(spec, policy="least-loaded", k=1, progress=progress) as s:
        before = s.balances()
        cycles = _cycles_for(s, exec_s)
        order = TaskOrder(
            task_id=task_id,
            cycles=cycles,
            input_bytes=128 * 1024,
            deadline_s=deadline_s,
            max_price=10_000,
            max_reassign=2,
        )
        s.fleet.clients[requester].originate(order)
        progress(f"{s.fleet.org_name(requester)} requested {task_id} (deadline {deadline_s} s)")
        _wait(f"{task_id} to be awarded", lambda: _status(s, task_id) == "AWARDED", timeout=deadline_s)
        victim = s.cloud_monitor.states()[task_id].executor
        _wait(f"{victim} to start {task_id}", lambda: _running_on(s, victim, task_id), timeout=deadline_s)
        name = s.fleet.org_name(victim)
        if how == "kill":
            s.fleet.kill(victim)
            progress(f"killed the agent of {name} while it executed {task_id}")
        else:
            s.fleet.partition(victim)
            progress(f"cut the agent of {name} off the network while it executed {task_id}")
        if _status(s, task_id) != "AWARDED":  # the fault came too late to matter: say so, not time out
            raise NetworkError(f"{name} finished {task_id} before the {how} took effect; give a longer exec_s")
        _wait(
            f"{task_id} to expire",
            lambda: _status(s, task_id) == "EXPIRED" or s.cloud_monitor.states()[task_id].reassigns > 0,
            timeout=deadline_s + 30,
        )
        progress(f"{task_id} expired at its deadline; waiting for it to be reassigned and settled")
        _wait(
            f"{task_id} to settle", lambda: _status(s, task_id) in ("SETTLED", "DISPUTED"), timeout=3 * deadline_s + 60
        )
        if how == "kill":
            progress(f"restarting the agent of {name}")
            s.fleet.start_one(victim)
        else:
            progress(f"reconnecting the agent of {name}")
            s.fleet.reconnect(victim)
            s.fleet.wait_ready([victim], timeout=60)
            time.sleep(3)  # room for whatever the returning agent still tries for the old task
        task = s.ledger.read_task(task_id)
        after = s.balances()
        audit = s.ledger.audit_credits()
        report.timeline = _timeline(s, task_id)
    deltas = _deltas(before, after)
    report.balances = deltas
    price, executor = int(task["price"]), task["executor"]
    statuses = [r["status"] for r in report.timeline]
    report.check("settled", task["status"] == "SETTLED", task["status"])
    report.check("expired, then reassigned", "EXPIRED" in statuses and statuses.index("EXPIRED") < len(statuses) - 1)
    report.check("completed by another edge", executor not in ("", victim), executor)
    report.check("the dead edge was not paid", deltas[victim]["balance"] == 0, str(deltas[victim]))
    report.check("the dead edge lost reputation", deltas[victim]["reputation"] < 0, str(deltas[victim]))
    report.check("the requester paid once", deltas[requester]["balance"] == -price, f"{deltas[requester]} vs {price}")
    report.check(
        "the new executor was paid once", deltas[executor]["balance"] == price, f"{deltas[executor]} vs {price}"
    )
    report.check("credits conserved", bool(audit.get("balanced")), str(audit))
    return report
