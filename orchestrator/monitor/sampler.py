"""What the cloud monitor measures about every edge, once a second.

* the agent's own report (``GET /status``: queue, backlog, measured cycles per second, CPU use);
* ``docker stats`` of the agent container and of the edge's peer (CPU %, memory, network), from
  one streaming reader per container that keeps the newest sample (a one-shot ``stats`` call
  waits up to a second for the daemon's next one);
* the peer's ``/healthz`` and its ledger height from ``/metrics``.

A reading that fails leaves its fields ``None``; nothing here raises once started.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from orchestrator import metrics
from orchestrator.agent.http import AgentClient
from orchestrator.engine import StatsStream
from orchestrator.errors import MecFabError
from orchestrator.topology import Org, Topology

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EdgeSample:
    """One edge at one moment."""

    org: str
    msp_id: str
    t: float  # Unix seconds
    agent_ok: bool
    agent_seen: float  # last time the agent answered (0: never)
    agent: Mapping[str, Any] = field(default_factory=dict)  # its /status, empty when it did not answer
    agent_error: str = ""
    cpu_pct: float | None = None  # agent container, % of one core
    mem_mb: float | None = None
    net_rx_bps: float | None = None  # bytes per second
    net_tx_bps: float | None = None
    peer_cpu_pct: float | None = None
    peer_healthy: bool = False
    peer_height: int | None = None


def docker_numbers(sample: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """(CPU % of one core, memory MiB, network rx bytes, tx bytes) from one ``docker stats`` sample."""
    cpu, pre = sample.get("cpu_stats") or {}, sample.get("precpu_stats") or {}
    used = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
    system = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []) or 1
    cpu_pct = used / system * online * 100.0 if system > 0 and used >= 0 else 0.0
    mem = sample.get("memory_stats") or {}
    stats = mem.get("stats") or {}
    cache = stats.get("inactive_file", stats.get("total_inactive_file", 0))  # what `docker stats` leaves out
    mem_mb = max(0, mem.get("usage", 0) - cache) / 2**20
    rx = sum(n.get("rx_bytes", 0) for n in (sample.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (sample.get("networks") or {}).values())
    return cpu_pct, mem_mb, float(rx), float(tx)


class EdgeSampler:
    """Samples every edge of ``topology`` every ``interval`` seconds from a thread.

    ``agent_urls`` maps an edge's MSP ID to its agent endpoint; ``project`` is the compose project
    whose containers ``docker stats`` follows (``None``: no Docker sampling).
    """

    def __init__(
        self,
        topology: Topology,
        *,
        agent_urls: Mapping[str, str],
        project: str | None,
        interval: float = 1.0,
        docker_client: Any = None,
        on_sample: Callable[[dict[str, EdgeSample]], None] | None = None,
    ) -> None:
        self.topology = topology
        self.edges: tuple[Org, ...] = topology.edge_orgs
        self.interval = interval
        self.project = project
        self._clients = {msp: AgentClient(url, timeout=min(1.0, interval)) for msp, url in agent_urls.items()}
        self._docker = docker_client
        self._on_sample = on_sample
        self._streams: dict[str, StatsStream] = {}  # compose service -> stream
        self._last_scan = 0.0
        self._net: dict[str, tuple[float, float, float]] = {}  # msp -> (t, rx, tx)
        self._seen: dict[str, float] = {}
        self._latest: dict[str, EdgeSample] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-sampler", daemon=True)
        self.history: list[EdgeSample] = []

    def start(self) -> None:
        if self.project is not None and self._docker is None:
            try:
                from orchestrator import engine

                self._docker = engine.connect()
            except MecFabError as exc:
                log.warning("no docker stats: %s", exc)
        self.sample_once()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=3)
        for stream in self._streams.values():
            stream.stopping.set()

    def __enter__(self) -> EdgeSampler:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def latest(self) -> dict[str, EdgeSample]:
        with self._lock:
            return dict(self._latest)

    def _run(self) -> None:
        next_at = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += self.interval
            if next_at < time.monotonic():  # a slow tick: skip, never pile up
                next_at = time.monotonic() + self.interval
            try:
                self.sample_once()
            except Exception:
                log.exception("sampling the edges failed")

    # ---- one tick --------------------------------------------------------------------------
    def _scan_containers(self) -> None:
        if self._docker is None or self.project is None or time.monotonic() - self._last_scan < 5:
            return
        self._last_scan = time.monotonic()
        wanted = {self.topology.peer_of(org).agent_host for org in self.edges}
        wanted |= {self.topology.peer_of(org).host for org in self.edges}
        try:
            containers = self._docker.containers.list(
                filters={"label": f"com.docker.compose.project={self.project}", "status": "running"}
            )
        except Exception as exc:
            log.debug("listing containers failed: %s", exc)
            return
        for container in containers:
            service = container.labels.get("com.docker.compose.service", "")
            stream = self._streams.get(service)
            if service in wanted and (stream is None or not stream.is_alive()):
                stream = StatsStream(container)
                stream.start()
                self._streams[service] = stream

    def _docker_sample(self, service: str) -> tuple[float, float, float, float] | None:
        stream = self._streams.get(service)
        if stream is None or stream.latest is None or not stream.is_alive():
            return None
        return docker_numbers(stream.latest)

    def sample_once(self) -> dict[str, EdgeSample]:
        self._scan_containers()
        bind = self.topology.ports.bind
        samples: dict[str, EdgeSample] = {}
        for org in self.edges:
            now = time.time()
            peer = self.topology.peer_of(org)
            client = self._clients.get(org.msp_id)
            status: Mapping[str, Any] = {}
            error = "no agent endpoint"
            if client is not None:
                try:
                    status, error = client.status(), ""
                    self._seen[org.msp_id] = now
                except MecFabError as exc:
                    error = str(exc)
            docker_agent = self._docker_sample(peer.agent_host)
            docker_peer = self._docker_sample(peer.host)
            rx_bps = tx_bps = None
            if docker_agent is not None:
                previous = self._net.get(org.msp_id)
                if previous is not None and now > previous[0]:
                    rx_bps = max(0.0, (docker_agent[2] - previous[1]) / (now - previous[0]))
                    tx_bps = max(0.0, (docker_agent[3] - previous[2]) / (now - previous[0]))
                self._net[org.msp_id] = (now, docker_agent[2], docker_agent[3])
            healthy, _ = metrics.healthz(bind, peer.operations_port, timeout=0.5)
            height = metrics.value(
                metrics.scrape(bind, peer.operations_port, timeout=0.5),
                "ledger_blockchain_height",
                channel=self.topology.channel,
            )
            samples[org.msp_id] = EdgeSample(
                org=org.name,
                msp_id=org.msp_id,
                t=now,
                agent_ok=bool(status) and bool(status.get("ready")),
                agent_seen=self._seen.get(org.msp_id, 0.0),
                agent=status,
                agent_error=error,
                cpu_pct=docker_agent[0] if docker_agent else None,
                mem_mb=docker_agent[1] if docker_agent else None,
                net_rx_bps=rx_bps,
                net_tx_bps=tx_bps,
                peer_cpu_pct=docker_peer[0] if docker_peer else None,
                peer_healthy=healthy,
                peer_height=int(height) if height is not None else None,
            )
        with self._lock:
            self._latest = samples
            self.history.extend(samples.values())
        if self._on_sample is not None:
            self._on_sample(samples)
        return samples
