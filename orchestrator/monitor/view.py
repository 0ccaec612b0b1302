"""From live measurements to the selection-policy interface, and from one pick to a shortlist.

The policies of ``orchestrator.policy`` see a :class:`ClusterView` (capacity, backlog, links) and
a :class:`TaskSpec`; here both are built from what the monitor measured:

* capacity ι: the cycles per second the edge's agent measured on its own executions (its CPU
  limit, the machine and its background load all show in it), else the capacity it registered;
* backlog: the larger of the work the agent reports queued and the cycles of the tasks the ledger
  shows awarded to it and not yet completed (the ledger knows at once, the agent's report lags);
* links: this testbed does not emulate links, so every link and the backhaul are the Docker bridge,
  taken as 1 Gbit/s; the block and consensus message sizes are the simulator's defaults.

A policy answers with one node; :func:`rank` asks it again without that node until it has ``k``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from orchestrator.errors import ConfigError
from orchestrator.policy import ClusterView, SelectionPolicy, TaskSpec
from orchestrator.policy.baselines import LeastLoadedPolicy
from orchestrator.sim.config import SimConfig
from orchestrator.sim.model import block_generation_cycles

log = logging.getLogger(__name__)

BRIDGE_BPS = 1.0e9
_SIM = SimConfig()
BLOCK_CYCLES = block_generation_cycles(_SIM.block_transactions, _SIM.cycles_per_hash)


def task_spec(task_id: str, *, cycles: int, input_bytes: int, deadline: float, now: float) -> TaskSpec:
    """A task as the policies see it: one item of its input size, its cycles, the time left."""
    return TaskSpec(
        task_id=task_id,
        items=1,
        item_bits=float(input_bytes * 8),
        cycles=float(cycles),
        deadline_s=max(0.0, deadline - now),
    )


def cluster_view(
    node_ids: Sequence[str], *, capacity_hz: Mapping[str, float], backlog_cycles: Mapping[str, float]
) -> ClusterView:
    """The view of ``node_ids`` (MSP IDs); missing capacities count as 1 GHz, missing backlogs as 0."""
    n = len(node_ids)
    return ClusterView(
        node_ids=tuple(node_ids),
        capacity_hz=tuple(max(1.0, float(capacity_hz.get(m, 1e9))) for m in node_ids),
        backlog_cycles=tuple(max(0.0, float(backlog_cycles.get(m, 0.0))) for m in node_ids),
        link_bps=tuple(tuple(BRIDGE_BPS for _ in range(n)) for _ in range(n)),
        backhaul_bps=tuple(BRIDGE_BPS for _ in range(n)),
        block_cycles=BLOCK_CYCLES,
        append_bits=_SIM.append_bits,
        ack_bits=_SIM.ack_bits,
    )


def subset(view: ClusterView, keep: Sequence[int]) -> ClusterView:
    return ClusterView(
        node_ids=tuple(view.node_ids[i] for i in keep),
        capacity_hz=tuple(view.capacity_hz[i] for i in keep),
        backlog_cycles=tuple(view.backlog_cycles[i] for i in keep),
        link_bps=tuple(tuple(view.link_bps[i][j] for j in keep) for i in keep),
        backhaul_bps=tuple(view.backhaul_bps[i] for i in keep),
        block_cycles=view.block_cycles,
        append_bits=view.append_bits,
        ack_bits=view.ack_bits,
    )


def rank(policy: SelectionPolicy, view: ClusterView, task: TaskSpec, k: int) -> list[str]:
    """The policy's ``k`` preferred nodes, best first: its pick, then its pick among the rest, ...

    A policy that only accepts views of the size it was trained for (``ddpg``) picks the first
    from the full view; the rest follow least-loaded.
    """
    if k < 1:
        raise ConfigError(f"a shortlist needs at least one candidate, not {k}")
    remaining = list(range(view.n_nodes))
    chosen: list[str] = []
    fallback: SelectionPolicy = LeastLoadedPolicy()
    current = policy
    while remaining and len(chosen) < k:
        sub = subset(view, remaining)
        try:
            pick = current.select(sub, task)
        except ConfigError as exc:
            if current is fallback:
                raise
            log.debug("policy %s cannot rank %d nodes (%s): least-loaded ranks the rest", policy.name, sub.n_nodes, exc)
            current = fallback
            continue
        if not 0 <= pick < sub.n_nodes:
            raise ConfigError(f"policy {policy.name} chose node {pick} of {sub.n_nodes}")
        chosen.append(sub.node_ids[pick])
        remaining.pop(pick)
        if current is policy and getattr(policy, "n_nodes", None) is not None:
            current = fallback  # a fixed-size policy ranks once; its view size changes from here
    return chosen
