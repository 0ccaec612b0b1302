"""``mecfab validate-model``: the second paper's latency model (eqs. 2 and 5) against live Fabric.

For each N (edges) a network of its own is started with link proxies; for each (delay, rate) of
the grid every edge's link is set, then Edge1's client submits transactions one at a time
(endorsed by its own peer, so the endorse phase stays local) and the gateway's per-phase clocks
give the consensus/commit latency of each: ``submit + commit`` (broadcast to the orderers, block
cutting, Raft, delivery to Edge1's peer, validation). Each block's size ``H`` is read back from
the ledger.

Predictions for the same parameters, from ``orchestrator.sim.model``:

* ``model``: eq. 2 (block generation, ``N_tx`` transactions per block, ν and ι from
  :class:`SimConfig`) + eq. 5 (``H/R + U/R`` at the ζ-th follower, every link at rate ``R``).
* ``model+fabric``: the same plus the two terms the model leaves out and Fabric has: the orderer's
  batch timeout (a lone transaction waits for it) and the link's propagation delay: half a round
  trip for the transaction to reach the orderer and half for the block to come back (the
  broadcast's acknowledgement travels back while the orderer waits for the batch timeout).

The error per point (measured - predicted) is written next to both, with a plot.
"""

from __future__ import annotations

import csv
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from orchestrator.links.control import set_links
from orchestrator.links.settings import Link
from orchestrator.sim.config import SimConfig
from orchestrator.sim.model import block_generation_latency, consensus_latency, quorum_followers
from orchestrator.topology import REPO_ROOT, Topology, load_topology

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Grid:
    edges: tuple[int, ...]
    delays_ms: tuple[int, ...]
    rates_mbit: tuple[float, ...]
    transactions: int  # per point, after one warm-up


QUICK = Grid(edges=(2, 4), delays_ms=(0, 50), rates_mbit=(2.0, 20.0), transactions=5)
FULL = Grid(edges=(2, 4, 8), delays_ms=(0, 20, 50, 100), rates_mbit=(2.0, 10.0, 50.0), transactions=10)


@dataclass(frozen=True)
class Prediction:
    block_s: float  # eq. 2
    consensus_s: float  # eq. 5
    model_s: float  # eq. 2 + eq. 5
    fabric_s: float  # model + batch timeout + one link round-trip delay


def _seconds(duration: str) -> float:
    number = float(duration.rstrip("msh"))
    return number / 1000 if duration.endswith("ms") else number * (60 if duration.endswith("m") else 1)


def predict(
    *,
    edges: int,
    delay_ms: int,
    rate_mbit: float,
    block_bits: float,
    txs_per_block: int,
    batch_timeout_s: float,
    sim: SimConfig | None = None,
) -> Prediction:
    """Eqs. 2 and 5 for one grid point (ι: the middle of SimConfig's capacity range)."""
    c = sim or SimConfig()
    capacity = (c.capacity_min_hz + c.capacity_max_hz) / 2
    block = block_generation_latency(txs_per_block, c.cycles_per_hash, capacity)
    followers = max(edges - 1, 1)
    rates = np.full(followers, rate_mbit * 1e6)
    consensus = consensus_latency(block_bits, c.ack_bits, rates, rates, quorum=quorum_followers(edges))
    model = block + consensus
    return Prediction(block, consensus, model, model + batch_timeout_s + delay_ms / 1000)


@dataclass(frozen=True)
class TxSample:
    edges: int
    delay_ms: int
    rate_mbit: float
    tx_id: str
    block: int
    block_bytes: int
    endorse_ms: float
    submit_ms: float
    commit_ms: float

    @property
    def consensus_commit_ms(self) -> float:
        return self.submit_ms + self.commit_ms


@dataclass(frozen=True)
class PointResult:
    edges: int
    delay_ms: int
    rate_mbit: float
    transactions: int
    block_bytes: float
    measured_median_ms: float
    measured_p95_ms: float
    predicted_model_ms: float
    error_model_ms: float
    error_model_pct: float
    predicted_fabric_ms: float
    error_fabric_ms: float
    error_fabric_pct: float


def summarize(samples: Sequence[TxSample], *, batch_timeout_s: float, sim: SimConfig | None = None) -> PointResult:
    """One grid point's samples against its predictions (H: the median block size)."""
    first = samples[0]
    measured = sorted(s.consensus_commit_ms for s in samples)
    median = statistics.median(measured)
    p95 = measured[min(len(measured) - 1, round(0.95 * (len(measured) - 1)))]
    block_bytes = statistics.median(s.block_bytes for s in samples)
    p = predict(
        edges=first.edges,
        delay_ms=first.delay_ms,
        rate_mbit=first.rate_mbit,
        block_bits=block_bytes * 8,
        txs_per_block=1,
        batch_timeout_s=batch_timeout_s,
        sim=sim,
    )
    model_ms, fabric_ms = p.model_s * 1000, p.fabric_s * 1000
    return PointResult(
        edges=first.edges,
        delay_ms=first.delay_ms,
        rate_mbit=first.rate_mbit,
        transactions=len(samples),
        block_bytes=block_bytes,
        measured_median_ms=round(median, 2),
        measured_p95_ms=round(p95, 2),
        predicted_model_ms=round(model_ms, 2),
        error_model_ms=round(median - model_ms, 2),
        error_model_pct=round(100 * (median - model_ms) / median, 1),
        predicted_fabric_ms=round(fabric_ms, 2),
        error_fabric_ms=round(median - fabric_ms, 2),
        error_fabric_pct=round(100 * (median - fabric_ms) / median, 1),
    )


# ---- the live part ---------------------------------------------------------------------------
def _topology(edges: int, port_base: int) -> Topology:
    data = load_topology().with_overrides(edges=edges, port_base=port_base).model_dump()
    data["links"] = {"enabled": True, "backend": "toxiproxy", "edges": {}}
    return Topology.model_validate(data)


@contextmanager
def _network(topology: Topology, project: str, progress: Progress) -> Iterator[Any]:
    from orchestrator.network import NetworkSpec, down, up

    root = Path(tempfile.mkdtemp(prefix=f"{project}-"))
    spec = NetworkSpec.isolated(root, project=project, topology=topology)
    try:
        progress(f"starting {project} ({len(topology.edge_orgs)} edges)")
        up(spec, progress=progress)
        yield spec
    finally:
        progress(f"removing {project}")
        down(spec)


def _block_sizes(ledger: Any, channel: str, numbers: Sequence[int]) -> dict[int, int]:
    """Serialized size of each block in ``numbers``, read back over the peer's deliver service."""
    import importlib

    from orchestrator.gateway import deliver

    events_pb2_grpc: Any = importlib.import_module("fabric_protos.peer.events_pb2_grpc")
    gateway = ledger._gateway
    stub = events_pb2_grpc.DeliverStub(gateway._channel)
    envelope = deliver._seek_envelope(gateway, channel, min(numbers), max(numbers))
    sizes: dict[int, int] = {}
    for response in stub.Deliver(iter([envelope]), timeout=60):
        if response.WhichOneof("Type") != "block":
            break
        sizes[response.block.header.number] = response.block.ByteSize()
    return sizes


def _measure_point(spec: Any, *, delay_ms: int, rate_mbit: float, transactions: int) -> list[TxSample]:
    from orchestrator.ledger import Ledger

    t = spec.topology
    link = Link(delay_ms=delay_ms, rate_bps=rate_mbit * 1e6)
    set_links(spec, {org.name: link for org in t.edge_orgs})
    raw = []
    with Ledger.connect(spec, "Edge1") as ledger:
        for i in range(transactions + 1):
            result = ledger.contract.submit("RegisterEdge", "2000000000", "2048", "7", endorsing_orgs=["Edge1MSP"])
            if i:  # the first one warms the connections after the link changed
                raw.append(result)
        sizes = _block_sizes(ledger, t.channel, [r.block_number for r in raw])
    return [
        TxSample(
            edges=len(t.edge_orgs),
            delay_ms=delay_ms,
            rate_mbit=rate_mbit,
            tx_id=r.tx_id,
            block=r.block_number,
            block_bytes=sizes.get(r.block_number, 0),
            endorse_ms=round(r.timings.endorse_s * 1000, 3),
            submit_ms=round(r.timings.submit_s * 1000, 3),
            commit_ms=round(r.timings.commit_s * 1000, 3),
        )
        for r in raw
    ]


def free_port_base(edges: int, start: int) -> int:
    """The first block of host ports from ``start`` (below 32000) that a network of ``edges`` can use."""
    from orchestrator import engine

    for base in range(start, 32000, 500):
        t = _topology(edges, base)
        ports = [p for n in t.nodes for p in (n.host_port, n.operations_port)]
        ports += [n.admin_port for n in t.orderers_nodes]
        ports += [p for n in t.peer_nodes for p in (n.proxy_api_port, n.probe_port)]
        if not engine.busy_ports(t.ports.bind, ports):
            return base
    raise RuntimeError(f"no free block of host ports from {start} for a {edges}-edge network")


def run_validation(
    grid: Grid,
    *,
    out_dir: Path,
    project_prefix: str = "mecfab-validate",
    port_base: int = 20000,
    progress: Progress = lambda _: None,
) -> list[PointResult]:
    """Run the grid on live networks (one at a time, always torn down) and write the results."""
    out_dir.mkdir(parents=True, exist_ok=True)
    samples: list[TxSample] = []
    results: list[PointResult] = []
    started = time.time()
    batch_timeout_s = _seconds(load_topology().orderers.batch_timeout)
    for edges in grid.edges:
        topology = _topology(edges, free_port_base(edges, port_base))
        with _network(topology, f"{project_prefix}-n{edges}", progress) as spec:
            for delay in grid.delays_ms:
                for rate in grid.rates_mbit:
                    progress(f"N={edges}: delay {delay} ms, rate {rate:g} Mbit/s, {grid.transactions} transactions")
                    point = _measure_point(spec, delay_ms=delay, rate_mbit=rate, transactions=grid.transactions)
                    samples += point
                    results.append(summarize(point, batch_timeout_s=batch_timeout_s))
                    write_results(out_dir, grid=grid, samples=samples, results=results, started=started)
    plot(out_dir / "predicted-vs-measured.png", results)
    return results


def write_results(
    out_dir: Path, *, grid: Grid, samples: Sequence[TxSample], results: Sequence[PointResult], started: float
) -> None:
    from orchestrator.bench.results import git_info, host_facts

    with (out_dir / "transactions.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        names = [*TxSample.__dataclass_fields__, "consensus_commit_ms"]
        writer.writerow(names)
        for s in samples:
            writer.writerow([*asdict(s).values(), round(s.consensus_commit_ms, 3)])
    with (out_dir / "points.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(PointResult.__dataclass_fields__)
        for r in results:
            writer.writerow(asdict(r).values())
    meta = {
        "grid": asdict(grid),
        "started_unix": started,
        "batch_timeout": load_topology().orderers.batch_timeout,
        "sim_config": SimConfig().model_dump(),
        "git": git_info(REPO_ROOT),
        "host": host_facts(),
        "measured": "median of submit+commit per transaction (Edge1's client, endorsed locally)",
        "predicted_model": "eq. 2 (N_tx=1) + eq. 5 with H = the block's size and every link at the set rate",
        "predicted_fabric": "model + batch timeout + the link's round-trip delay (half out, half back)",
    }
    (out_dir / "summary.json").write_text(json.dumps(meta | {"points": [asdict(r) for r in results]}, indent=2))


def plot(path: Path, results: Sequence[PointResult]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    measured = [r.measured_median_ms for r in results]
    ax.scatter([r.predicted_model_ms for r in results], measured, label="eqs. 2 + 5", marker="o")
    ax.scatter(
        [r.predicted_fabric_ms for r in results], measured, label="eqs. 2 + 5 + batch timeout + delay", marker="s"
    )
    for r in results:
        ax.annotate(
            f"N{r.edges} {r.delay_ms}ms {r.rate_mbit:g}M",
            (r.predicted_fabric_ms, r.measured_median_ms),
            fontsize=6,
            alpha=0.7,
        )
    low = max(min([*measured, *(r.predicted_model_ms for r in results)]) * 0.5, 0.01)
    high = max([*measured, *(r.predicted_fabric_ms for r in results)]) * 1.5
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="predicted = measured")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted consensus/commit latency [ms]")
    ax.set_ylabel("measured (median submit + commit) [ms]")
    ax.set_title("latency model vs live Fabric")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
