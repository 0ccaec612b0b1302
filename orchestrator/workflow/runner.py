"""``mecfab run tasks``: a whole task-sharing run on a live network, and its results folder.

A :class:`Session` starts what a run needs: the edge agents (containers, compose profile
``agents``), the edge sampler and the cloud monitor with the chosen policy (in this process, as the
Cloud org). :func:`run_tasks` then sends the seeded workload to the requesters' agents on schedule
(open workload: a task leaves at its time whatever happened to the earlier ones), waits until every
task is settled or expired for good, collects every actor's trace and the ledger's final word on
each task, checks the credits, and writes::

    <folder>/config.json        resolved configuration, Fabric version, git commit, host facts
    <folder>/tasks.jsonl        one raw record per task: stage times, every mark, every transaction
    <folder>/stages.csv         one row per task: stage times and the intervals between them
    <folder>/transactions.csv   one row per transaction (who, phases, block, attempts, error)
    <folder>/edges.csv          the monitor's samples of every edge, once a second
    <folder>/ledger.json        credit audit, balances before and after, the per-edge check
    <folder>/summary.json|.md   outcomes, per-stage p50/p95, execution vs ledger share

:func:`run_many` replays the same workload (same seed) with several policies, one folder each,
plus ``comparison.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.agent.connection import PeerConnection
from orchestrator.agent.decide import AwardRule
from orchestrator.agent.trace import marks_from_json, txs_from_json
from orchestrator.errors import ConfigError, MecFabError, NetworkError
from orchestrator.gateway import GatewayError
from orchestrator.ledger import Ledger
from orchestrator.monitor import CloudMonitor, EdgeSampler, MonitorSettings, MonitorSnapshot
from orchestrator.policy import PolicyOptions, available_policies, create_policy
from orchestrator.topology import REPO_ROOT
from orchestrator.workflow.fleet import AgentFleet
from orchestrator.workflow.records import TaskRecord, merge, write_records
from orchestrator.workflow.summary import markdown, overview_table, stage_table, summarize
from orchestrator.workflow.workload import PlannedTask, WorkloadConfig, generate

if TYPE_CHECKING:
    from orchestrator.network import NetworkSpec

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
Tick = Callable[[MonitorSnapshot, int, int], None]  # snapshot, tasks sent, tasks finished
DEFAULT_DDPG_DIR = REPO_ROOT / "results" / "sim"


def _quiet(_: str) -> None:
    return None


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    workload: WorkloadConfig = WorkloadConfig()
    policy: str = "auction"
    model_path: Path | None = None  # the trained policy for "ddpg" (default: results/sim, N = edges - 1)
    k: int = Field(2, ge=1, le=16, description="candidates per shortlist")
    offer_timeout_s: float = Field(4.0, gt=0, le=120)
    drain_timeout_s: float | None = Field(None, gt=0, description="default: the longest deadline per attempt + 30 s")
    fresh_agents: bool = True  # restart the agents before the run (empty queues, fresh measurements)
    keep_agents: bool = False  # leave them running afterwards

    @property
    def label(self) -> str:
        return self.policy


def ddpg_model(n_nodes: int, explicit: Path | None) -> Path:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"no trained policy at {explicit}")
        return explicit
    path = DEFAULT_DDPG_DIR / f"ddpg_policy_n{n_nodes}.pt"
    if not path.is_file():
        raise ConfigError(
            f"policy 'ddpg' needs {path} (a policy trained for {n_nodes} candidate nodes): "
            f"run 'mecfab sim train --nodes {n_nodes}' or pass --model"
        )
    return path


def make_policy(spec: NetworkSpec, name: str, *, seed: int, model_path: Path | None) -> Any:
    if name not in available_policies():
        raise ConfigError(f"unknown selection policy {name!r}; known: {', '.join(available_policies())}")
    model = None
    if name == "ddpg":
        model = ddpg_model(len(spec.topology.edge_orgs) - 1, model_path)
    return create_policy(name, PolicyOptions(seed=seed, model_path=model))


class Session:
    """Agents, sampler and monitor for one run (or one demo); everything stopped on exit."""

    def __init__(
        self,
        spec: NetworkSpec,
        *,
        policy: str,
        seed: int = 0,
        k: int = 2,
        offer_timeout_s: float = 4.0,
        model_path: Path | None = None,
        fresh_agents: bool = True,
        keep_agents: bool = False,
        progress: Progress = _quiet,
    ) -> None:
        self.spec = spec
        self.policy_name = policy
        self.policy = make_policy(spec, policy, seed=seed, model_path=model_path)
        self.settings = MonitorSettings(policy=policy, k=k, offer_timeout_s=offer_timeout_s)
        self.fresh_agents = fresh_agents
        self.keep_agents = keep_agents
        self.progress = progress
        self.fleet = AgentFleet(spec)
        self.cloud: Ledger | None = None
        self.sampler: EdgeSampler | None = None
        self.monitor: CloudMonitor | None = None

    def __enter__(self) -> Session:
        try:
            if self.fresh_agents and self.fleet.running():
                self.progress("restarting the edge agents (fresh queues and measurements)")
                self.fleet.stop()
            self.fleet.start(progress=self.progress)
            self._wait_quiet()
            cloud_org = self.spec.topology.peer_orgs[0].name
            self.cloud = PeerConnection.from_spec(self.spec, cloud_org).connect()
            self.sampler = EdgeSampler(self.spec.topology, agent_urls=self.fleet.urls, project=self.spec.project)
            self.sampler.start()
            self.progress(f"cloud monitor up: policy {self.policy_name}, shortlists of {self.settings.k}")
            self.monitor = CloudMonitor(
                self.cloud, self.spec.topology, self.policy, self.settings, sampler=self.sampler
            )
            self.monitor.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.monitor is not None:
            self.monitor.stop()
        if self.sampler is not None:
            self.sampler.stop()
        if self.cloud is not None:
            self.cloud.close()
        if not self.keep_agents:
            try:
                self.fleet.stop()
            except MecFabError as exc:
                log.warning("stopping the agents: %s", exc)

    def _wait_quiet(self, timeout: float = 60.0) -> None:
        """Until no agent has work left from before (tasks it recovered at start), so that the
        balances this run starts from do not move under it."""
        deadline, quiet, told = time.monotonic() + timeout, 0, False
        while time.monotonic() < deadline and quiet < 2:
            busy = []
            for msp, client in self.fleet.clients.items():
                status = client.status()
                if status["queue_len"] or status["pending_handlers"]:
                    busy.append(self.fleet.org_name(msp))
            quiet = 0 if busy else quiet + 1
            if busy and not told:
                told = True
                self.progress(f"waiting for {', '.join(busy)} to finish work recovered from before")
            time.sleep(1.0)

    @property
    def ledger(self) -> Ledger:
        if self.cloud is None:
            raise NetworkError("the session is not started")
        return self.cloud

    @property
    def cloud_monitor(self) -> CloudMonitor:
        if self.monitor is None:
            raise NetworkError("the session is not started")
        return self.monitor

    def balances(self) -> dict[str, dict[str, Any]]:
        return {msp: self.ledger.balance(msp) for msp in self.fleet.nodes}

    def collect(self, prefix: str) -> tuple[list[Any], list[Any]]:
        """Every actor's stage and transaction marks for tasks starting with ``prefix``."""
        books = [*self.fleet.traces(prefix), self.cloud_monitor.book.export(prefix)]
        marks = [m for b in books for m in marks_from_json(b["marks"])]
        txs = [t for b in books for t in txs_from_json(b["txs"])]
        return marks, txs

    def read_tasks(self, task_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        tasks = {}
        for task_id in task_ids:
            try:
                tasks[task_id] = self.ledger.read_task(task_id)
            except GatewayError:
                continue  # never requested
        return tasks


@dataclass(frozen=True)
class RunOutcome:
    folder: Path
    run_id: str
    summary: dict[str, Any]
    records: list[TaskRecord]
    ledger: dict[str, Any]


def _final(state: Any, *, max_reassign: int, now: float) -> bool:
    if state.status in ("SETTLED", "DISPUTED"):
        return True
    # an expired task is final once its requester used up its reassignments, or did not act
    return bool(state.status == "EXPIRED" and (state.reassigns >= max_reassign or now - state.closed_at > 15))


def credit_check(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], tasks: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Each edge's balance change against what the run's tasks explain (settled: the requester pays
    the executor the price; disputed: half; expired: nothing). A mismatch means credits moved that
    the run did not account for (another client's tasks, or a payment made twice)."""
    expected = dict.fromkeys(before, 0)
    for task in tasks.values():
        price, requester, executor = int(task.get("price", 0)), task.get("requester", ""), task.get("executor", "")
        paid = price if task.get("status") == "SETTLED" else price // 2 if task.get("status") == "DISPUTED" else 0
        if paid and requester in expected and executor in expected:
            expected[requester] -= paid
            expected[executor] += paid
    actual = {m: int(after[m]["balance"]) - int(before[m]["balance"]) for m in before}
    return {
        "expected_delta": expected,
        "actual_delta": actual,
        "consistent": expected == actual,
    }


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def _host_facts() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
    }


def _edges_csv(session: Session, folder: Path) -> None:
    header = "t,org,agent_ok,queue_len,backlog_s,effective_hz,agent_cpu_share,background_share,cpu_pct,mem_mb"
    header += ",net_rx_bps,net_tx_bps,peer_cpu_pct,peer_healthy,peer_height"
    lines = [header]
    for s in session.sampler.history if session.sampler else []:
        a = s.agent

        def f(v: Any) -> str:
            return "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)

        row = [f"{s.t:.3f}", s.org, str(int(s.agent_ok)), f(a.get("queue_len")), f(a.get("backlog_s"))]
        row += [f(a.get("effective_hz")), f(a.get("cpu_share")), f(a.get("background_share")), f(s.cpu_pct)]
        row += [f(s.mem_mb), f(s.net_rx_bps), f(s.net_tx_bps), f(s.peer_cpu_pct), str(int(s.peer_healthy))]
        row += [f(s.peer_height)]
        lines.append(",".join(row))
    (folder / "edges.csv").write_text("\n".join(lines) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(_nan_to_none(data), indent=2, default=_json_default) + "\n")


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    return value


def run_tasks(
    spec: NetworkSpec,
    config: RunConfig,
    *,
    folder: Path,
    progress: Progress = _quiet,
    tick: Tick | None = None,
) -> RunOutcome:
    """One run of ``config`` on the live network of ``spec``; results in ``folder``."""
    edges = [o.name for o in spec.topology.edge_orgs]
    stamp = dt.datetime.now().strftime("%m%d%H%M%S")
    run_id = f"{config.policy}-{stamp}".replace("_", "-")
    award_rule: AwardRule = "auction" if config.policy == "auction" else "rank"
    plan = generate(config.workload, edges, run_id=run_id, award_rule=award_rule)
    drain_timeout = config.drain_timeout_s or config.workload.deadline_max_s * (config.workload.max_reassign + 1) + 30
    folder.mkdir(parents=True, exist_ok=True)
    with Session(
        spec,
        policy=config.policy,
        seed=config.workload.seed,
        k=config.k,
        offer_timeout_s=config.offer_timeout_s,
        model_path=config.model_path,
        fresh_agents=config.fresh_agents,
        keep_agents=config.keep_agents,
        progress=progress,
    ) as session:
        before = session.balances()
        progress(f"run {run_id}: {len(plan)} tasks at {config.workload.rate_hz:g}/s, seed {config.workload.seed}")
        sent, send_errors, started = _send(session, plan, tick=tick)
        progress(f"all {len(sent)} tasks sent in {time.time() - started:.1f} s; waiting for them to finish")
        finished = _drain(session, sent, max_reassign=config.workload.max_reassign, timeout=drain_timeout, tick=tick)
        ended = time.time()
        time.sleep(1.0)  # the last marks (a settle seen by its executor) arrive
        marks, txs = session.collect(run_id)
        ledger_tasks = session.read_tasks([p.order.task_id for p in plan])
        after = session.balances()
        audit = session.ledger.audit_credits()
        _edges_csv(session, folder)
    planned = [
        {
            "task_id": p.order.task_id,
            "index": p.index,
            "requester": p.requester,
            "cycles": p.order.cycles,
            "input_bytes": p.order.input_bytes,
            "deadline_s": p.order.deadline_s,
            "delegate": p.order.delegate,
            "planned_offset_s": p.offset_s,
        }
        for p in plan
    ]
    records = merge(planned, marks, txs, ledger_tasks)
    summary = summarize(records, duration_s=ended - started)
    summary["unfinished_at_drain"] = len(sent) - finished
    summary["send_errors"] = send_errors
    check = credit_check(before, after, ledger_tasks)
    ledger_report = {"audit": audit, "balances_before": before, "balances_after": after, "credit_check": check}
    write_records(records, folder)
    _dump(
        folder / "config.json",
        {
            "run_id": run_id,
            "config": config.model_dump(mode="json"),
            "network": {
                "project": spec.project,
                "fabric_version": spec.fabric_version,
                "consensus": spec.topology.consensus,
                "edges": {o.name: spec.topology.edge_server(o).model_dump() for o in spec.topology.edge_orgs},
            },
            "git_commit": _git_commit(),
            "host": _host_facts(),
            "started": dt.datetime.fromtimestamp(started).isoformat(timespec="seconds"),
            "duration_s": ended - started,
        },
    )
    _dump(folder / "ledger.json", ledger_report)
    _dump(folder / "summary.json", summary)
    (folder / "summary.md").write_text(markdown(summary, title=f"run {run_id} (policy {config.policy})"))
    return RunOutcome(folder, run_id, summary, records, ledger_report)


def _send(
    session: Session, plan: Sequence[PlannedTask], *, tick: Tick | None
) -> tuple[list[str], dict[str, str], float]:
    """Send each task to its requester's agent at its time (sleeping toward the schedule)."""
    fleet, monitor = session.fleet, session.cloud_monitor
    start = time.time() + 0.5
    sent: list[str] = []
    errors: dict[str, str] = {}
    last_tick = 0.0
    for p in plan:
        while (wait := start + p.offset_s - time.time()) > 0:
            time.sleep(min(wait, 0.5))
            if tick is not None and time.time() - last_tick >= 1.0:
                last_tick = time.time()
                tick(monitor.snapshot(), len(sent), 0)
        try:
            fleet.clients[fleet.msp_of(p.requester)].originate(p.order)
            sent.append(p.order.task_id)
        except MecFabError as exc:
            errors[p.order.task_id] = str(exc)
            log.warning("task %s not sent: %s", p.order.task_id, exc)
    return sent, errors, start


def _drain(session: Session, sent: Sequence[str], *, max_reassign: int, timeout: float, tick: Tick | None) -> int:
    monitor = session.cloud_monitor
    deadline = time.time() + timeout
    finished = 0
    while time.time() < deadline:
        states, now = monitor.states(), time.time()
        finished = sum(1 for t in sent if t in states and _final(states[t], max_reassign=max_reassign, now=now))
        if tick is not None:
            tick(monitor.snapshot(), len(sent), finished)
        if finished == len(sent):
            break
        time.sleep(0.5)
    return finished


def run_many(
    spec: NetworkSpec,
    config: RunConfig,
    policies: Sequence[str],
    *,
    out: Path,
    progress: Progress = _quiet,
    tick: Tick | None = None,
) -> list[RunOutcome]:
    """The same workload (same seed) once per policy; ``out/<policy>/`` each, ``out/comparison.md``."""
    for name in policies:
        if name not in available_policies():
            raise ConfigError(f"unknown selection policy {name!r}; known: {', '.join(available_policies())}")
    if "ddpg" in policies:
        ddpg_model(len(spec.topology.edge_orgs) - 1, config.model_path)  # fail before any run
    outcomes = []
    for name in policies:
        run_config = config.model_copy(update={"policy": name})
        outcomes.append(run_tasks(spec, run_config, folder=out / name, progress=progress, tick=tick))
    write_comparison(out, {p: o.summary for p, o in zip(policies, outcomes, strict=True)})
    return outcomes


def write_comparison(out: Path, summaries: dict[str, dict[str, Any]]) -> Path:
    text = "\n".join(
        [
            "# Policies on the same workload",
            "",
            overview_table(summaries),
            "",
            "Per stage, tasks settled at their first attempt, milliseconds:",
            "",
            stage_table(summaries),
            "",
        ]
    )
    path = out / "comparison.md"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def summary_from_folder(folder: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{folder} holds no run summary: {exc}") from None

    def nan(value: Any) -> Any:
        if value is None:
            return math.nan
        if isinstance(value, dict):
            return {k: nan(v) for k, v in value.items()}
        return value

    return {k: nan(v) if k in ("stages_s", "time_shares", "throughput_settled_per_s") else v for k, v in data.items()}


def asdict_outcome(outcome: RunOutcome) -> dict[str, Any]:
    return {"folder": str(outcome.folder), "run_id": outcome.run_id, "summary": outcome.summary} | {
        "credit_check": outcome.ledger["credit_check"],
        "audit": outcome.ledger["audit"],
    }


__all__ = [
    "RunConfig",
    "RunOutcome",
    "Session",
    "asdict_outcome",
    "credit_check",
    "run_many",
    "run_tasks",
    "summary_from_folder",
    "write_comparison",
]
