"""Run a benchmark against a live network and write its results folder.

The parent process registers the client edges, starts the worker processes (spawn) and the
resource sampler, then runs the rounds one after another: Fabric metrics snapshot → workers prepare
→ a common monotonic start time → workers send on the schedule → records appended to the folder →
snapshot. Nothing here prints: progress goes to a :class:`RunObserver`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import multiprocessing
import os
import queue
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import engine, metrics
from orchestrator.bench.config import BenchConfig, RoundSpec
from orchestrator.bench.rates import RATE_CONTROLLERS, make_controller
from orchestrator.bench.records import TxStatus
from orchestrator.bench.results import RecordsFormat, ResultsWriter, git_info, host_facts
from orchestrator.bench.sampler import ResourceSampler, fabric_snapshot
from orchestrator.bench.worker import ClientTarget, RoundStats, WorkerSetup, worker_main
from orchestrator.bench.workloads import WORKLOADS
from orchestrator.errors import ConfigError, LedgerError, NetworkError
from orchestrator.network import NetworkSpec
from orchestrator.topology import REPO_ROOT, OrgKind

__all__ = ["RoundOutcome", "RunObserver", "run_benchmark"]

log = logging.getLogger(__name__)

# A worker busier than this (CPU seconds per wall second) is probably the limit, not the network.
WORKER_BUSY = 0.9
STARTUP_TIMEOUT_S = 90.0
START_DELAY_S = 0.3


class RunObserver:
    """Receives progress; every method is a no-op here (the CLI overrides them)."""

    def phase(self, message: str) -> None:
        return None

    def round_started(self, index: int, spec: RoundSpec, expected: int | None) -> None:
        return None

    def round_progress(self, index: int, sent: int, done: int) -> None:
        return None

    def round_finished(self, index: int, outcome: RoundOutcome) -> None:
        return None

    def warning(self, message: str) -> None:
        return None


@dataclass(frozen=True)
class RoundOutcome:
    """A quick tally of one round (the report computes the real statistics from the records)."""

    label: str
    sent: int
    succeeded: int
    failed: int
    wall_s: float
    loadgen_cpu_s: float
    workers: list[RoundStats] = field(default_factory=list)


def _targets(spec: NetworkSpec, config: BenchConfig) -> tuple[ClientTarget, ...]:
    t = spec.topology
    targets = []
    for name in config.clients.orgs:
        org = t.org(name)
        if not org.is_peer_org:
            raise ConfigError(f"clients.orgs: {org.name} has no peer; name peer orgs (Cloud, Edge1, ...)")
        peer = t.peer_of(org)
        msp_dir = spec.state.user_msp(org, config.clients.user)
        if not msp_dir.is_dir():
            raise ConfigError(
                f"clients.user: no identity {config.clients.user} for {org.name} in {msp_dir}: "
                "is the network up (mecfab network up)?"
            )
        targets.append(
            ClientTarget(
                org=org.name,
                msp_id=org.msp_id,
                endpoint=f"{t.ports.bind}:{peer.host_port}",
                server_name=peer.host,
                tls_ca=spec.state.org_tls_ca(org).read_bytes(),
                msp_dir=msp_dir,
            )
        )
    return tuple(targets)


def _check_network(spec: NetworkSpec, targets: tuple[ClientTarget, ...]) -> None:
    t = spec.topology
    for target in targets:
        peer = t.peer_of(t.org(target.org))
        healthy, detail = metrics.healthz(t.ports.bind, peer.operations_port)
        if not healthy:
            raise NetworkError(
                f"peer {peer.host} of network {spec.project!r} is not healthy ({detail}): "
                "start the network first ('mecfab network up')"
            )


def _register_edges(spec: NetworkSpec, config: BenchConfig, observer: RunObserver) -> None:
    """Every client org must be a registered edge when a round's workload requests tasks."""
    if not any(WORKLOADS[r.workload.type].needs_edges for r in config.rounds):
        return
    from orchestrator.ledger import Ledger

    for name in config.clients.orgs:
        org = spec.topology.org(name)
        if org.kind is not OrgKind.EDGE:
            needing = sorted({r.workload.type for r in config.rounds if WORKLOADS[r.workload.type].needs_edges})
            raise ConfigError(
                f"clients.orgs: {org.name} is not an edge, but workload(s) {', '.join(needing)} "
                "send as registered edges; list only Edge orgs"
            )
        with Ledger.connect(spec, org.name, user=config.clients.user) as ledger:
            if not ledger.edge_registered(org.msp_id):
                observer.phase(f"registering {org.name} as an edge server")
                ledger.register_edge(cpu_cycles_per_sec=3_000_000_000, memory_mb=4096, price_per_gigacycle=5)


def _reported_version(snapshot: dict[str, Any]) -> str | None:
    for samples in snapshot.get("nodes", {}).values():
        for s in samples:
            if s["name"] == "fabric_version" and s["labels"].get("version"):
                return str(s["labels"]["version"])
    return None


class _Workers:
    """The worker processes and their queues."""

    def __init__(self, setups: list[WorkerSetup]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.results: Any = ctx.Queue()
        self.commands: list[Any] = [ctx.Queue() for _ in setups]
        self.processes = [
            ctx.Process(target=worker_main, args=(s, q, self.results), name=f"bench-worker-{s.worker}", daemon=True)
            for s, q in zip(setups, self.commands, strict=True)
        ]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def start(self, timeout: float) -> None:
        for p in self.processes:
            p.start()
        ready = 0
        for message in self._messages(timeout, silence=timeout):
            if message[0] == "ready":
                ready += 1
                if ready == len(self.processes):
                    return

    def _messages(self, timeout: float, *, silence: float) -> Any:
        """Messages from the workers; raises when one failed or died, or all went quiet too long."""
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while True:
            try:
                message = self.results.get(timeout=0.5)
            except queue.Empty:
                dead = [p.name for p in self.processes if not p.is_alive()]
                if dead:
                    raise NetworkError(f"load-generator process(es) {', '.join(dead)} died") from None
                if time.monotonic() - quiet_since > silence or time.monotonic() > deadline:
                    raise NetworkError("the load-generator workers stopped answering") from None
                continue
            quiet_since = time.monotonic()
            if message[0] == "failed":
                last = message[2].strip().splitlines()[-1] if message[2].strip() else "unknown error"
                log.debug("worker %s failed:\n%s", message[1], message[2])
                raise LedgerError(f"load-generator worker {message[1]} failed: {last}")
            yield message

    def run_round(
        self, index: int, spec: RoundSpec, *, silence: float, observer: RunObserver, writer: ResultsWriter
    ) -> tuple[float, list[RoundStats], int, int, int]:
        """(start_at, worker stats, sent, succeeded, failed) of one round; records go to ``writer``."""
        n = len(self.processes)
        for q in self.commands:
            q.put(("round", index, spec))
        prepared = 0
        for message in self._messages(float("inf"), silence=silence):
            if message[0] == "prepared":
                prepared += 1
                if prepared == n:
                    break
        start_at = time.monotonic() + START_DELAY_S
        for q in self.commands:
            q.put(("go", start_at))
        progress = [(0, 0)] * n
        stats: list[RoundStats] = []
        sent = succeeded = failed = 0
        status_col = 12  # index of "status" in a record row
        for message in self._messages(float("inf"), silence=silence):
            if message[0] == "progress" and message[2] == spec.label:
                progress[message[1]] = (message[3], message[4])
                observer.round_progress(index, sum(p[0] for p in progress), sum(p[1] for p in progress))
            elif message[0] == "done":
                rows, worker_stats = message[3], message[4]
                writer.append_records(rows)
                ok = sum(1 for r in rows if TxStatus(r[status_col]).succeeded)
                succeeded += ok
                failed += len(rows) - ok
                sent += worker_stats.sent
                progress[message[1]] = (worker_stats.sent, len(rows))
                observer.round_progress(index, sum(p[0] for p in progress), sum(p[1] for p in progress))
                stats.append(worker_stats)
                if len(stats) == n:
                    break
        return start_at, sorted(stats, key=lambda s: s.worker), sent, succeeded, failed

    def stop(self) -> None:
        for q in self.commands:
            with contextlib.suppress(Exception):
                q.put(("stop",))
        for p in self.processes:
            if p.pid is None:
                continue
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)


def _expected(spec: RoundSpec) -> int | None:
    if spec.tx_count is not None:
        return spec.tx_count
    ctrl = make_controller(spec.rate, worker=0, workers=1, tx_count=None, duration_s=spec.duration_s)
    tps = ctrl.nominal_tps()
    return round(tps * (spec.duration_s or 0)) if tps else None


def run_benchmark(
    config: BenchConfig,
    spec: NetworkSpec,
    out: Path,
    *,
    observer: RunObserver | None = None,
    config_source: Path | None = None,
    records_format: RecordsFormat = "csv",
) -> Path:
    """Run every round of ``config`` against the live network ``spec``; returns the results folder ``out``."""
    obs = observer or RunObserver()
    targets = _targets(spec, config)
    _check_network(spec, targets)
    _register_edges(spec, config, obs)
    run_id = "b" + secrets.token_hex(4)
    started_wall = dt.datetime.now(dt.UTC)
    client = engine.connect()
    meta: dict[str, Any] = {
        "name": config.name,
        "run_id": run_id,
        "config_source": str(config_source) if config_source else None,
        "started": started_wall.isoformat(),
        "fabric_version": spec.fabric_version,
        "git": git_info(REPO_ROOT),
        "host": host_facts(client),
        "network": {
            "project": spec.project,
            "channel": spec.topology.channel,
            "chaincode": spec.topology.chaincode.name,
            "topology": spec.topology.model_dump(mode="json"),
            "nodes": [n.host for n in spec.topology.nodes],
        },
        "loadgen": {
            "workers": config.workers,
            "clients": [t.org for t in targets],
            "main_pid": os.getpid(),
            "rate_controllers": sorted(RATE_CONTROLLERS),
            "workloads": sorted(WORKLOADS),
        },
    }
    setups = [
        WorkerSetup(
            worker=w,
            workers=config.workers,
            run_id=run_id,
            channel=spec.topology.channel,
            chaincode=spec.topology.chaincode.name,
            clients=targets,
            max_in_flight=config.max_in_flight,
            commit_timeout_s=config.commit_timeout_s,
        )
        for w in range(config.workers)
    ]
    rounds: list[dict[str, Any]] = []
    snapshots: dict[str, Any] = {}
    silence = config.commit_timeout_s + 60.0
    with ResultsWriter(out, records_format=records_format) as writer:
        writer.write_config(config.dump())
        writer.write_meta(meta)
        workers = _Workers(setups)
        sampler: ResourceSampler | None = None
        try:
            sampler = ResourceSampler(
                project=spec.project,
                topology=spec.topology,
                interval_s=config.sampler.interval_s,
                docker=config.sampler.docker,
                loadgen_pids=[os.getpid()],
            ).start()
            obs.phase(f"starting {config.workers} load-generator worker process(es)")
            workers.start(STARTUP_TIMEOUT_S)
            meta["loadgen"]["worker_pids"] = workers.pids
            sampler.loadgen_pids = [os.getpid(), *workers.pids]
            for index, round_spec in enumerate(config.rounds):
                label = round_spec.label
                before = fabric_snapshot(spec.topology) if config.sampler.fabric_metrics else {}
                if index == 0 and before:
                    meta["fabric_version_reported"] = _reported_version(before)
                obs.round_started(index, round_spec, _expected(round_spec))
                main_cpu0 = time.process_time()
                sampler.round = label
                start_at, stats, sent, ok, failed = workers.run_round(
                    index, round_spec, silence=silence, observer=obs, writer=writer
                )
                end = time.monotonic()
                sampler.round = ""
                main_cpu = time.process_time() - main_cpu0
                after = fabric_snapshot(spec.topology) if config.sampler.fabric_metrics else {}
                snapshots[label] = {"before": before, "after": after}
                ctrl = make_controller(
                    round_spec.rate, worker=0, workers=1, tx_count=round_spec.tx_count, duration_s=round_spec.duration_s
                )
                rounds.append(
                    {
                        "index": index,
                        "label": label,
                        "workload": round_spec.workload.type,
                        "kind": WORKLOADS[round_spec.workload.type].kind,
                        "rate": round_spec.rate.model_dump(mode="json"),
                        "closed": ctrl.closed,
                        "nominal_tps": ctrl.nominal_tps(),
                        "tx_count": round_spec.tx_count,
                        "duration_s": round_spec.duration_s,
                        "start": start_at,
                        "end": end,
                        "sent": sent,
                        "succeeded": ok,
                        "failed": failed,
                        "main_cpu_s": main_cpu,
                        "workers": [asdict(s) for s in stats],
                    }
                )
                writer.write_rounds(rounds)
                outcome = RoundOutcome(
                    label=label,
                    sent=sent,
                    succeeded=ok,
                    failed=failed,
                    wall_s=end - start_at,
                    loadgen_cpu_s=sum(s.cpu_s for s in stats) + main_cpu,
                    workers=stats,
                )
                for s in stats:
                    if s.cpu_utilization >= WORKER_BUSY:
                        obs.warning(
                            f"round {label}: load-generator worker {s.worker} was busy "
                            f"{s.cpu_utilization:.0%} of the round: the client may be the limit, not the network "
                            "(add workers)"
                        )
                obs.round_finished(index, outcome)
        finally:
            workers.stop()
            if sampler is not None:
                sampler.stop()
                writer.write_resources(sampler.samples)
                meta["sampler"] = {
                    "interval_s": sampler.interval_s,
                    "ticks": sampler.ticks,
                    "skipped_ticks": sampler.skipped_ticks,
                }
            writer.write_fabric_metrics(snapshots)
            meta["finished"] = dt.datetime.now(dt.UTC).isoformat()
            meta["records"] = writer.records_written
            meta["records_format"] = records_format
            meta["complete"] = len(rounds) == len(config.rounds)
            writer.write_meta(meta)
            with contextlib.suppress(Exception):
                client.close()
    return out
