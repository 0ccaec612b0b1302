"""Resource monitoring while a benchmark runs.

* :class:`ResourceSampler`: CPU %, memory, network and block I/O of every container of the compose
  project (``docker stats`` through docker-py), plus the host's CPU and the load generator's own
  processes, one row per container per tick, on a timer that never overlaps itself: a tick that
  runs long makes the next ones skip, never pile up. The docker daemon publishes stats once a
  second per container, so one streaming reader per container keeps the latest sample and the tick
  only reads them (a one-shot ``stats`` call waits up to a second for the daemon's next sample).
* :func:`fabric_snapshot`: selected Prometheus samples of every node (block height, endorsement and
  commit durations, Raft leader, ...) — taken before and after each round.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from orchestrator import engine, metrics
from orchestrator.engine import StatsStream
from orchestrator.topology import Topology

__all__ = ["FABRIC_METRIC_PREFIXES", "ResourceSample", "ResourceSampler", "container_role", "fabric_snapshot"]

log = logging.getLogger(__name__)

FABRIC_METRIC_PREFIXES = (
    "ledger_blockchain_height",
    "ledger_block_processing_time",
    "ledger_blockstorage_commit_time",
    "ledger_statedb_commit_time",
    "ledger_transaction_count",
    "endorser_proposal_duration",
    "endorser_proposals_received",
    "endorser_successful_proposals",
    "gateway_",
    "broadcast_processed_count",
    "broadcast_validate_duration",
    "blockcutter_block_fill_duration",
    "consensus_etcdraft_",
    "fabric_version",
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
)


@dataclass(frozen=True, slots=True)
class ResourceSample:
    """One container (or the host, or the load generator) at one tick."""

    t: float  # time.monotonic()
    round: str  # the round running at that moment ("" between rounds)
    container: str  # compose service, "host" or "loadgen"
    role: str  # orderer | peer | chaincode | host | loadgen
    cpu_pct: float  # % of one core over the sample's own window (docker's convention: 200 = two cores busy)
    cpu_s: float  # cumulative CPU seconds (the report divides differences by time: exact per round)
    mem_mb: float
    net_rx_bytes: float  # cumulative counters; the report takes differences
    net_tx_bytes: float
    blk_read_bytes: float
    blk_write_bytes: float


def container_role(service: str, topology: Topology) -> str:
    """orderer, peer or chaincode for a compose service name of ``topology``."""
    for node in topology.nodes:
        if service == node.host:
            return "orderer" if node.is_orderer else "peer"
        if not node.is_orderer and service == node.chaincode_host:
            return "chaincode"
    if service.startswith("orderer"):
        return "orderer"
    if service.startswith("peer"):
        return "peer"
    return "chaincode" if service.startswith("cc.") else "other"


def _docker_numbers(sample: dict[str, Any]) -> tuple[float, float, float, float, float, float, float]:
    """(cpu %, cpu s, memory MB, net rx, net tx, block read, block write) from one docker stats sample."""
    cpu, pre = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    cpu_delta = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    cpu_pct = cpu_delta / system_delta * online * 100.0 if system_delta > 0 and cpu_delta >= 0 else 0.0
    mem = sample.get("memory_stats") or {}
    stats = mem.get("stats") or {}
    cache = stats.get("inactive_file", stats.get("total_inactive_file", 0))  # what `docker stats` subtracts
    mem_mb = max(0, mem.get("usage", 0) - cache) / 2**20
    rx = tx = 0.0
    for net in (sample.get("networks") or {}).values():
        rx += net.get("rx_bytes", 0)
        tx += net.get("tx_bytes", 0)
    read = write = 0.0
    for entry in (sample.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += entry.get("value", 0)
        elif op == "write":
            write += entry.get("value", 0)
    cpu_s = (cpu.get("cpu_usage") or {}).get("total_usage", 0) / 1e9
    return cpu_pct, cpu_s, mem_mb, rx, tx, read, write


def _read_time(sample: dict[str, Any]) -> float | None:
    """The daemon's ``read`` stamp (wall clock, RFC 3339 with nanoseconds) as ``time.time()`` seconds."""
    text = str(sample.get("read") or "")
    if not text or text.startswith("0001-"):
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    digits = "".join(ch for ch in frac if ch.isdigit())
    try:
        whole = dt.datetime.fromisoformat(head).replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return None
    return whole + (int(digits[:9].ljust(9, "0")) / 1e9 if digits else 0.0)


def _host_cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]  # guest time is already in user time
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


def _proc_cpu_rss(pid: int) -> tuple[float, float] | None:
    """(CPU seconds, RSS MB) of a process from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    return (int(fields[11]) + int(fields[12])) / ticks, int(fields[21]) * page / 2**20


class ResourceSampler:
    """Samples containers, the host and the load generator every ``interval_s`` on a background thread.

    Use as a context manager; ``round`` tags the rows taken while a round runs.
    """

    def __init__(
        self,
        *,
        project: str,
        topology: Topology,
        interval_s: float = 1.0,
        docker: bool = True,
        loadgen_pids: Iterable[int] = (),
    ) -> None:
        self.project = project
        self.topology = topology
        self.interval_s = interval_s
        self.use_docker = docker
        self.loadgen_pids: list[int] = list(loadgen_pids)
        self.round = ""
        self.samples: list[ResourceSample] = []
        self.ticks = 0
        self.skipped_ticks = 0
        self._streams: list[StatsStream] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="resource-sampler", daemon=True)
        self._client: Any = None
        self._host_prev: tuple[int, int] | None = None
        self._proc_prev: dict[int, tuple[float, float]] = {}
        self._seen: dict[str, float] = {}

    def start(self) -> ResourceSampler:
        if self.use_docker:
            self._client = engine.connect()
            for container in engine.project_containers(self._client, self.project):
                if container.status == "running":
                    stream = StatsStream(container)
                    stream.start()
                    self._streams.append(stream)
        self._host_prev = _host_cpu_jiffies()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for stream in self._streams:
            stream.stopping.set()
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()

    def __enter__(self) -> ResourceSampler:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _loop(self) -> None:
        start = time.monotonic()
        tick = 0
        while not self._stop.is_set():
            try:
                self.sample_once()
            except Exception as exc:  # monitoring must never stop the benchmark
                log.warning("resource sample failed: %s", exc)
            self.ticks += 1
            # the next tick on the fixed grid that is still in the future: a slow tick skips, never overlaps
            elapsed = time.monotonic() - start
            next_tick = max(tick + 1, int(elapsed / self.interval_s) + 1)
            self.skipped_ticks += next_tick - tick - 1
            tick = next_tick
            self._stop.wait(max(0.0, start + tick * self.interval_s - time.monotonic()))

    def sample_once(self) -> None:
        """One tick: every container whose daemon sample is new, the host CPU, the load generator."""
        t = time.monotonic()
        wall = time.time()
        label = self.round
        rows: list[ResourceSample] = []
        for stream in self._streams:
            latest = stream.latest
            if latest is None:
                continue
            read = _read_time(latest)
            key = stream.container.id
            if read is None or self._seen.get(key) == read:
                continue  # the daemon has not published a new sample since the last tick
            self._seen[key] = read
            service = stream.container.labels.get("com.docker.compose.service", stream.container.name)
            cpu, cpu_s, mem, rx, tx, rd, wr = _docker_numbers(latest)
            role = container_role(service, self.topology)
            rows.append(ResourceSample(t - (wall - read), label, service, role, cpu, cpu_s, mem, rx, tx, rd, wr))
        busy, total = _host_cpu_jiffies()
        ticks = os.sysconf("SC_CLK_TCK")
        if self._host_prev is not None and total > self._host_prev[1]:
            pct = (busy - self._host_prev[0]) / (total - self._host_prev[1]) * 100.0 * (os.cpu_count() or 1)
            rows.append(ResourceSample(t, label, "host", "host", pct, busy / ticks, 0.0, 0.0, 0.0, 0.0, 0.0))
        self._host_prev = (busy, total)
        cpu_pct = cpu_total = rss_sum = 0.0
        alive = False
        for pid in self.loadgen_pids:
            got = _proc_cpu_rss(pid)
            if got is None:
                continue
            alive = True
            prev = self._proc_prev.get(pid)
            self._proc_prev[pid] = (got[0], t)
            if prev is not None and t > prev[1]:
                cpu_pct += (got[0] - prev[0]) / (t - prev[1]) * 100.0
            cpu_total += got[0]
            rss_sum += got[1]
        if alive:
            rows.append(ResourceSample(t, label, "loadgen", "loadgen", cpu_pct, cpu_total, rss_sum, 0.0, 0.0, 0.0, 0.0))
        self.samples.extend(rows)


def fabric_snapshot(topology: Topology, *, prefixes: tuple[str, ...] = FABRIC_METRIC_PREFIXES) -> dict[str, Any]:
    """Selected Prometheus samples of every node: ``{host: [{name, labels, value}, ...]}`` (no histogram buckets)."""
    snapshot: dict[str, Any] = {"t": time.monotonic(), "nodes": {}}
    for node in topology.nodes:
        samples = metrics.scrape(topology.ports.bind, node.operations_port)
        snapshot["nodes"][node.host] = [
            {"name": s.name, "labels": dict(s.labels), "value": s.value}
            for s in samples
            if s.name.startswith(prefixes) and not s.name.endswith("_bucket")
        ]
    return snapshot
