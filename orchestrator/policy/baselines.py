"""The baseline selection policies: random, round-robin, least-loaded, min-latency oracle, auction."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from orchestrator.policy.base import ClusterView, SelectionPolicy, TaskSpec
from orchestrator.policy.estimate import expected_latencies


class RandomPolicy(SelectionPolicy):
    """Uniformly random executor, from a seeded stream."""

    name: ClassVar[str] = "random"

    def __init__(self, *, seed: int = 0) -> None:
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    def reset(self, *, seed: int | None = None) -> None:
        self._rng = np.random.default_rng(self._seed if seed is None else seed)

    def select(self, view: ClusterView, task: TaskSpec) -> int:
        return int(self._rng.integers(view.n_nodes))


class RoundRobinPolicy(SelectionPolicy):
    """Nodes in turn, whatever their state."""

    name: ClassVar[str] = "round-robin"

    def __init__(self) -> None:
        self._next = 0

    def reset(self, *, seed: int | None = None) -> None:
        self._next = 0

    def select(self, view: ClusterView, task: TaskSpec) -> int:
        choice = self._next % view.n_nodes
        self._next = choice + 1
        return choice


class LeastLoadedPolicy(SelectionPolicy):
    """Greedy on load: the node whose queue drains soonest (backlog / ι); ties go to the faster CPU."""

    name: ClassVar[str] = "least-loaded"

    def select(self, view: ClusterView, task: TaskSpec) -> int:
        capacity = np.asarray(view.capacity_hz)
        wait = np.asarray(view.backlog_cycles) / capacity
        return int(np.lexsort((-capacity, wait))[0])


class MinLatencyPolicy(SelectionPolicy):
    """Oracle: the node with the smallest total latency under the model (eq. 1-5 + queue + execution).

    It knows the current link rates and the model exactly, so it is the myopic optimum; it does not
    plan for the tasks that follow.
    """

    name: ClassVar[str] = "min-latency"

    def select(self, view: ClusterView, task: TaskSpec) -> int:
        return int(np.argmin(expected_latencies(view, task).total_s))


class AuctionPolicy(SelectionPolicy):
    """Sealed-bid reverse auction: each node bids its expected completion time, the lowest bid wins.

    A node knows its own queue, CPU and backhaul, so its bid is migration + queueing + execution +
    block generation; the consensus round trip depends on its peers' links and is not in the bid.
    """

    name: ClassVar[str] = "auction"

    @staticmethod
    def bids(view: ClusterView, task: TaskSpec) -> np.ndarray:
        terms = expected_latencies(view, task, consensus_s=np.zeros(view.n_nodes))
        return terms.total_s

    def select(self, view: ClusterView, task: TaskSpec) -> int:
        return int(np.argmin(self.bids(view, task)))
