"""The selection-policy interface: what a policy sees, and the one method it implements.

``ClusterView`` and ``TaskSpec`` are plain frozen records of measurable quantities, independent of
the simulator: the simulator builds them from its state, and the live cloud monitor can build them
from real measurements (CPU capacity, queued work, link throughput between peers).

A policy answers :meth:`SelectionPolicy.select` with the *index* of the executor in
``view.node_ids``; ``view.node_ids[index]`` is its id.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class TaskSpec:
    """One task to place: ``items`` of ``item_bits`` each to migrate, ``cycles`` to execute."""

    task_id: str
    items: int  # |Z|, count
    item_bits: float  # K, bit
    cycles: float  # CPU demand, cycles
    deadline_s: float  # relative to arrival, s

    def __post_init__(self) -> None:
        if self.items < 0:
            raise ValueError(f"task {self.task_id}: items must be >= 0, got {self.items}")
        for name in ("item_bits", "cycles", "deadline_s"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"task {self.task_id}: {name} must be a finite number >= 0, got {value}")

    @property
    def bits(self) -> float:
        """Total data migrated, |Z| K, in bits."""
        return self.items * self.item_bits


@dataclass(frozen=True)
class ClusterView:
    """What a policy knows about the cluster at the moment a task arrives (all tuples of length N)."""

    node_ids: tuple[str, ...]
    capacity_hz: tuple[float, ...]  # ι: CPU cycles per second available to tasks
    backlog_cycles: tuple[float, ...]  # work queued ahead of a new task, cycles
    link_bps: tuple[tuple[float, ...], ...]  # link_bps[l][f] = R(l,f), current rate l → f; diagonal ignored
    backhaul_bps: tuple[float, ...]  # β: rate from the cloud to each node, bit/s
    block_cycles: float  # (N + 2^N - 1) ν: CPU cycles to generate one block (eq. 2)
    append_bits: float  # H: AppendEntries message size, bit
    ack_bits: float  # U: confirmation message size, bit

    def __post_init__(self) -> None:
        n = len(self.node_ids)
        if n == 0:
            raise ValueError("a cluster view needs at least one node")
        for name in ("capacity_hz", "backlog_cycles", "backhaul_bps", "link_bps"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"cluster view: {name} has {len(getattr(self, name))} entries for {n} nodes")
        if any(len(row) != n for row in self.link_bps):
            raise ValueError(f"cluster view: link_bps must be {n}x{n}")
        if any(not c > 0 for c in self.capacity_hz):
            raise ValueError(f"cluster view: every capacity_hz must be > 0, got {self.capacity_hz}")

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)


class SelectionPolicy(ABC):
    """Chooses the executor of a task. Implementations are registered by name in ``registry``."""

    name: ClassVar[str] = "abstract"

    @abstractmethod
    def select(self, view: ClusterView, task: TaskSpec) -> int:
        """The index in ``view.node_ids`` of the node that should execute ``task``."""

    def reset(self, *, seed: int | None = None) -> None:  # noqa: B027 - optional hook, no-op by default
        """Forget per-episode state (round-robin position, random stream) before a new run."""
