"""Expected latency of a task on every node of a view, from the latency model (equations 1-5).

One place turns a :class:`ClusterView` into numbers; the oracle, the auction and the DDPG features
all use it.
"""

from __future__ import annotations

import numpy as np

from orchestrator.policy.base import ClusterView, TaskSpec
from orchestrator.sim.model import FloatArray, LatencyTerms, consensus_latencies, node_latencies


def view_consensus_s(view: ClusterView) -> FloatArray:
    """Eq. 5 for each node as the leader, from the view's current link rates."""
    links = np.asarray(view.link_bps, dtype=np.float64)
    return consensus_latencies(links, append_bits=view.append_bits, ack_bits=view.ack_bits)


def expected_latencies(view: ClusterView, task: TaskSpec, *, consensus_s: FloatArray | None = None) -> LatencyTerms:
    """Every latency term of ``task`` on each node of ``view`` (pass ``consensus_s`` to reuse it)."""
    return node_latencies(
        items=task.items,
        item_bits=task.item_bits,
        cycles=task.cycles,
        capacity_hz=np.asarray(view.capacity_hz, dtype=np.float64),
        backlog_cycles=np.asarray(view.backlog_cycles, dtype=np.float64),
        backhaul_bps=np.asarray(view.backhaul_bps, dtype=np.float64),
        block_cycles=view.block_cycles,
        consensus_s=view_consensus_s(view) if consensus_s is None else consensus_s,
    )
