"""Is the ordering cluster fit for a consenter change? Read from Fabric's own consensus metrics.

A config update that adds or removes a consenter is validated by the orderer that receives it
against the active nodes *it* knows of (etcdraft: the leader's view, sent to followers with its
heartbeats; ``consensus_etcdraft_active_nodes``). Fabric refuses the update ("3 out of 5 nodes
are alive, configuration will result in quorum loss") when too few are active, and a change
made while a node is still catching up leaves the cluster one slow node away from losing its
quorum. So before such an update we wait until:

* every consenter answers on its operations port and counts the current consenter set
  (``cluster_size``: the config it runs is the latest one);
* exactly one leader, and every consenter follows it (SmartBFT: the same ``leader_id``);
* etcdraft: every consenter's ``active_nodes`` equals the consenter count (the leader's view is
  stable only after a few ticks, and followers learn it with the next heartbeat);
* every consenter has committed at least the block the leader had committed when the check
  began (caught up: scraped leader first, then the others, so load does not make it flap).

:func:`assess` is pure (samples in, reasons out); :func:`wait_healthy` polls it and refuses
with one line naming the consenters not yet active.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from orchestrator import metrics
from orchestrator.errors import NetworkError
from orchestrator.render.configtx import bft_consenter_ids
from orchestrator.topology import Node, Topology


@dataclass(frozen=True)
class ConsenterSample:
    """What one consenter's ``/metrics`` said (``answered`` False: nothing could be read)."""

    name: str
    answered: bool
    cluster_size: int | None = None
    active_nodes: int | None = None  # etcdraft only
    committed: int | None = None
    is_leader: bool = False
    leader_id: int | None = None  # SmartBFT only: whom it follows
    own_id: int | None = None  # SmartBFT only: its consenter ID


@dataclass(frozen=True)
class Assessment:
    """The cluster's state: ``not_ready`` names each consenter that is not yet active and caught up
    (with why); ``problems`` are cluster-wide reasons (no leader, a view of too few active nodes)."""

    not_ready: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def healthy(self) -> bool:
        return not self.not_ready and not self.problems

    def describe(self) -> str:
        return "; ".join([*self.problems, *self.not_ready])


def _prefix(consensus: str) -> str:
    return f"consensus_{'BFT' if consensus == 'bft' else 'etcdraft'}_"


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def sample(topology: Topology, node: Node) -> ConsenterSample:
    """One consenter's consensus gauges for the topology's channel."""
    samples = metrics.scrape(topology.ports.bind, node.operations_port)
    if not samples:
        return ConsenterSample(node.short, answered=False)
    prefix, channel = _prefix(topology.consensus), topology.channel

    def gauge(name: str) -> float | None:
        return metrics.value(samples, prefix + name, channel=channel)

    return ConsenterSample(
        node.short,
        answered=True,
        cluster_size=_int(gauge("cluster_size")),
        active_nodes=_int(gauge("active_nodes")),
        committed=_int(gauge("committed_block_number")),
        is_leader=gauge("is_leader") == 1,
        leader_id=_int(gauge("leader_id")),
        own_id=bft_consenter_ids(topology)[node] if topology.consensus == "bft" else None,
    )


def leaders(samples: Sequence[ConsenterSample], *, consensus: str) -> list[ConsenterSample]:
    """The consenters that lead. etcdraft: those that say so (``is_leader``). SmartBFT sets
    ``is_leader`` and ``leader_id`` at start and when it delivers a block through consensus, so an
    orderer restarted while the others moved on to a new view still claims the old one until the
    next block it orders; then the leader is the claimer whose ID a majority of the consenters
    name in ``leader_id``."""
    claimers = [s for s in samples if s.answered and s.is_leader]
    if consensus != "bft" or len(claimers) <= 1:
        return claimers
    votes = Counter(s.leader_id for s in samples if s.answered and s.leader_id is not None)
    if votes:
        named, count = votes.most_common(1)[0]
        chosen = [s for s in claimers if s.own_id == named]
        if 2 * count > len(samples) and chosen:
            return chosen
    return claimers


def assess(
    samples: Sequence[ConsenterSample],
    *,
    consensus: str,
    leader_committed: int | None = None,
    leaving: str | None = None,
) -> Assessment:
    """Why the cluster of ``samples`` (every current consenter) is not fit for a consenter change.

    ``leader_committed``: the leader's committed block when the check began (default: what its
    sample says); a consenter below it has not caught up. ``leaving``: the consenter about to be
    removed, which may be down or behind (removing a dead orderer is allowed): then the others
    must see every consenter but it active."""
    size = len(samples)
    not_ready: list[str] = []
    excused = 0
    problems: list[str] = []
    leading = leaders(samples, consensus=consensus)
    if not leading:
        problems.append("no consensus leader")
    elif len(leading) > 1:
        problems.append(f"{len(leading)} nodes claim leadership ({', '.join(s.name for s in leading)})")
    leader = leading[0] if len(leading) == 1 else None
    target = leader_committed if leader_committed is not None else (leader.committed if leader else None)
    leader_id = leader.leader_id if leader else None
    for s in samples:
        reason = _not_ready(s, size=size, target=target, leader_id=leader_id, bft=consensus == "bft")
        if reason is None:
            continue
        if s.name == leaving:
            excused = 1
        else:
            not_ready.append(f"{s.name} ({reason})")
    if consensus != "bft":
        for s in samples:
            if s.answered and s.name != leaving and s.active_nodes is not None and s.active_nodes < size - excused:
                who = "the leader " if s is leader else ""
                problems.append(f"{who}{s.name} sees {s.active_nodes} of {size} consenters active")
    return Assessment(tuple(not_ready), tuple(problems))


def _not_ready(s: ConsenterSample, *, size: int, target: int | None, leader_id: int | None, bft: bool) -> str | None:
    if not s.answered:
        return "no answer on its operations port"
    if s.cluster_size != size:
        return f"runs a config with {s.cluster_size} consenters, not {size}"
    if s.committed is None:
        return "has not committed a block of the channel"
    if target is not None and s.committed < target:
        return f"at block {s.committed}, the leader at {target}"
    if bft and leader_id is not None and s.leader_id != leader_id:
        return f"follows leader {s.leader_id}, not {leader_id}"
    return None


def check(topology: Topology, *, leaving: str | None = None) -> Assessment:
    """Scrape every consenter of ``topology`` (the leader first, then the others) and assess."""
    nodes = topology.orderers_nodes
    first = [sample(topology, n) for n in nodes]
    leading = leaders(first, consensus=topology.consensus)
    if len(leading) != 1:
        return assess(first, consensus=topology.consensus, leaving=leaving)
    # caught up to the leader's block as of now: the others scraped after it
    target = leading[0].committed
    again = [sample(topology, n) if s is not leading[0] else s for n, s in zip(nodes, first, strict=True)]
    return assess(again, consensus=topology.consensus, leader_committed=target, leaving=leaving)


def wait_healthy(
    topology: Topology,
    *,
    before: str,
    leaving: str | None = None,
    timeout: float = 120,
    interval: float = 0.5,
    progress: Callable[[str], None] | None = None,
    probe: Callable[..., Assessment] = check,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Assessment:
    """Return once every consenter is active and caught up; refuse after ``timeout`` seconds with
    one line naming what is not (``before``: the change that waits, for the message; ``leaving``:
    see :func:`assess`)."""
    deadline = clock() + timeout
    told = False
    while True:
        state = probe(topology, leaving=leaving)
        if state.healthy:
            return state
        if clock() > deadline:
            raise NetworkError(
                f"refusing to {before}: the ordering cluster is not healthy after {timeout:.0f} s ({state.describe()})"
            )
        if not told and progress is not None:
            progress(f"waiting for every consenter to be active and caught up ({state.describe()})")
            told = True
        sleep(interval)
