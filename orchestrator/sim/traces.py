"""Seeded task traces: everything random in one episode, drawn once, replayed for every policy.

A :class:`Trace` fixes the cluster (node capacities and positions) and, for each decision epoch,
the arriving task and the shadowing of every link. The simulator adds no randomness of its own,
so two policies run on the same trace face exactly the same tasks and channel; only their choices
(and hence the queues) differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from orchestrator.policy.base import TaskSpec
from orchestrator.sim.config import SimConfig
from orchestrator.sim.model import FloatArray, distance_matrix


@dataclass(frozen=True, eq=False)
class Trace:
    """One episode of ``steps`` decisions (arrays hold ``steps + 1`` tasks: the last is only observed)."""

    seed: int
    steps: int
    arrival_rate_hz: float
    capacity_hz: FloatArray  # (N,) cycles/s
    positions_m: FloatArray  # (N, 2) m
    distance_m: FloatArray  # (N, N) m, diagonal 0
    backhaul_bps: FloatArray  # (N,) bit/s
    gap_s: FloatArray  # (T,) time since the previous arrival; gap_s[0] = 0
    items: npt.NDArray[np.int64]  # (T,) |Z|
    item_bits: FloatArray  # (T,) K, bit
    cycles: FloatArray  # (T,) cycles
    deadline_s: FloatArray  # (T,) s
    shadowing_db: FloatArray  # (T, N, N) dB, X of Υ = 10^(X/10) per directed link

    @property
    def n_nodes(self) -> int:
        return int(self.capacity_hz.shape[0])

    def task(self, t: int) -> TaskSpec:
        """The task arriving at epoch ``t`` (0 <= t <= steps)."""
        return TaskSpec(
            task_id=f"t-{t}",
            items=int(self.items[t]),
            item_bits=float(self.item_bits[t]),
            cycles=float(self.cycles[t]),
            deadline_s=float(self.deadline_s[t]),
        )


def generate_trace(config: SimConfig, *, steps: int, seed: int) -> Trace:
    """Draw one trace of ``steps`` decisions for ``config``; the same seed gives the same trace."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    rng = np.random.default_rng(seed)
    n, t = config.n_nodes, steps + 1
    capacity = rng.uniform(config.capacity_min_hz, config.capacity_max_hz, size=n)
    positions = rng.uniform(0.0, config.area_m, size=(n, 2))
    gaps = rng.exponential(1.0 / config.arrival_rate_hz, size=t)
    gaps[0] = 0.0
    items = rng.integers(config.items_min, config.items_max, size=t, endpoint=True, dtype=np.int64)
    item_bits = rng.uniform(config.item_bits_min, config.item_bits_max, size=t)
    cycles = rng.uniform(config.task_cycles_min, config.task_cycles_max, size=t)
    shadowing = (
        rng.normal(0.0, config.shadowing_std_db, size=(t, n, n)) if config.shadowing_std_db else (np.zeros((t, n, n)))
    )
    return Trace(
        seed=seed,
        steps=steps,
        arrival_rate_hz=config.arrival_rate_hz,
        capacity_hz=capacity,
        positions_m=positions,
        distance_m=distance_matrix(positions, min_distance_m=config.min_distance_m),
        backhaul_bps=np.full(n, config.backhaul_bps),
        gap_s=gaps,
        items=items,
        item_bits=item_bits,
        cycles=cycles,
        deadline_s=np.full(t, config.deadline_s),
        shadowing_db=np.asarray(shadowing, dtype=np.float64),
    )


def trace_seeds(seed: int, runs: int) -> list[int]:
    """``runs`` independent, reproducible trace seeds derived from one experiment seed."""
    children = np.random.SeedSequence(seed).spawn(runs)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def generate_traces(config: SimConfig, *, steps: int, runs: int, seed: int) -> list[Trace]:
    """The traces of ``runs`` repeated runs; every policy under comparison gets this same list."""
    return [generate_trace(config, steps=steps, seed=s) for s in trace_seeds(seed, runs)]
