"""The cluster over time: replays a trace, applies a placement, and keeps every node's queue.

No gymnasium here: the environment (:mod:`orchestrator.sim.env`) and the evaluation
(:mod:`orchestrator.sim.evaluate`) both drive this one simulator, so they cannot disagree.

At epoch ``t`` task ``t`` arrives; the chosen node ``l`` takes it after its queued work (FIFO),
then executes it and generates the block, so ``cycles + (N + 2^N - 1) ν`` join its backlog; until
the next arrival every node works its backlog down at ι cycles per second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from orchestrator.policy.base import ClusterView, TaskSpec
from orchestrator.policy.features import FeatureScales
from orchestrator.sim.config import SimConfig
from orchestrator.sim.model import (
    FloatArray,
    LatencyTerms,
    block_generation_cycles,
    consensus_latencies,
    drain_backlog,
    link_rate_matrix,
    node_latencies,
    reward,
)
from orchestrator.sim.traces import Trace


@dataclass(frozen=True)
class StepRecord:
    """What happened to one task."""

    step: int
    task_id: str
    node: int
    migration_s: float
    queueing_s: float
    execution_s: float
    block_s: float
    consensus_s: float
    latency_s: float
    deadline_s: float
    missed: bool
    reward: float


class ClusterSimulator:
    """Deterministic replay of one :class:`Trace` under a sequence of placements."""

    def __init__(self, config: SimConfig, trace: Trace) -> None:
        if trace.n_nodes != config.n_nodes:
            raise ValueError(f"trace has {trace.n_nodes} nodes, config has n_nodes={config.n_nodes}")
        self.config = config
        self.trace = trace
        self.block_cycles = block_generation_cycles(config.block_transactions, config.cycles_per_hash)
        self.node_ids = tuple(f"edge{i}" for i in range(config.n_nodes))
        self.t = 0
        self.backlog_cycles: FloatArray = np.zeros(config.n_nodes)
        self._cache_t = -1
        self._links: FloatArray = np.zeros((config.n_nodes, config.n_nodes))
        self._consensus: FloatArray = np.zeros(config.n_nodes)

    @property
    def done(self) -> bool:
        return self.t >= self.trace.steps

    def _refresh(self) -> None:
        if self._cache_t == self.t:
            return
        c = self.config
        self._links = link_rate_matrix(
            distance_m=self.trace.distance_m,
            shadowing_db=self.trace.shadowing_db[self.t],
            bandwidth_hz=c.bandwidth_hz,
            transmit_power_w=c.transmit_power_w,
            path_loss_exponent=c.path_loss_exponent,
            noise_psd_w_per_hz=c.noise_psd_w_per_hz,
        )
        self._consensus = consensus_latencies(self._links, append_bits=c.append_bits, ack_bits=c.ack_bits)
        self._cache_t = self.t

    def link_bps(self) -> FloatArray:
        """R(l,f) of the current epoch (bit/s)."""
        self._refresh()
        return self._links

    def consensus_s(self) -> FloatArray:
        """Eq. 5 for each node as leader in the current epoch (s)."""
        self._refresh()
        return self._consensus

    def task(self) -> TaskSpec:
        return self.trace.task(self.t)

    def view(self) -> ClusterView:
        """The current state as a policy sees it."""
        return ClusterView(
            node_ids=self.node_ids,
            capacity_hz=tuple(self.trace.capacity_hz.tolist()),
            backlog_cycles=tuple(self.backlog_cycles.tolist()),
            link_bps=tuple(tuple(row) for row in self.link_bps().tolist()),
            backhaul_bps=tuple(self.trace.backhaul_bps.tolist()),
            block_cycles=self.block_cycles,
            append_bits=self.config.append_bits,
            ack_bits=self.config.ack_bits,
        )

    def latencies(self) -> LatencyTerms:
        """Every latency term of the current task on each node (ground truth of the model)."""
        task = self.trace
        t = self.t
        return node_latencies(
            items=int(task.items[t]),
            item_bits=float(task.item_bits[t]),
            cycles=float(task.cycles[t]),
            capacity_hz=self.trace.capacity_hz,
            backlog_cycles=self.backlog_cycles,
            backhaul_bps=self.trace.backhaul_bps,
            block_cycles=self.block_cycles,
            consensus_s=self.consensus_s(),
        )

    def assign(self, node: int) -> StepRecord:
        """Place the current task on ``node``, advance to the next arrival, and say what it cost."""
        if self.done:
            raise RuntimeError("the trace is exhausted; reset the simulator")
        if not 0 <= node < self.config.n_nodes:
            raise ValueError(f"node index {node} outside 0..{self.config.n_nodes - 1}")
        terms = self.latencies().for_node(node)
        deadline = float(self.trace.deadline_s[self.t])
        latency = terms["total_s"]
        record = StepRecord(
            step=self.t,
            task_id=f"t-{self.t}",
            node=node,
            migration_s=terms["migration_s"],
            queueing_s=terms["queueing_s"],
            execution_s=terms["execution_s"],
            block_s=terms["block_s"],
            consensus_s=terms["consensus_s"],
            latency_s=latency,
            deadline_s=deadline,
            missed=latency > deadline,
            reward=reward(latency, deadline, self.config.deadline_penalty_s),
        )
        self.backlog_cycles[node] += float(self.trace.cycles[self.t]) + self.block_cycles
        self.t += 1
        self.backlog_cycles = drain_backlog(
            self.backlog_cycles, self.trace.capacity_hz, float(self.trace.gap_s[self.t])
        )
        return record


def feature_scales(config: SimConfig) -> FeatureScales:
    """The state normalisation for ``config``: latencies over the deadline, sizes over their maxima."""
    return FeatureScales(
        latency_s=config.deadline_s,
        capacity_hz=config.capacity_max_hz,
        cycles=config.task_cycles_max,
        bits=config.items_max * config.item_bits_max,
    )
