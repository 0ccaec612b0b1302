"""Seeded traces and the queueing simulator."""

from __future__ import annotations

import numpy as np
import pytest

from orchestrator.sim.cluster import ClusterSimulator
from orchestrator.sim.config import SimConfig
from orchestrator.sim.traces import Trace, generate_trace, generate_traces


def _trace(gaps: list[float], cycles: list[float]) -> Trace:
    t = len(gaps)
    return Trace(
        seed=0,
        steps=t - 1,
        arrival_rate_hz=1.0,
        capacity_hz=np.array([1.0e9, 2.0e9]),
        positions_m=np.array([[0.0, 0.0], [100.0, 0.0]]),
        distance_m=np.array([[0.0, 100.0], [100.0, 0.0]]),
        backhaul_bps=np.array([1.0e9, 1.0e9]),
        gap_s=np.array(gaps),
        items=np.ones(t, dtype=np.int64),
        item_bits=np.full(t, 1.0e6),
        cycles=np.array(cycles),
        deadline_s=np.full(t, 1.5),
        shadowing_db=np.zeros((t, 2, 2)),
    )


def test_same_seed_same_trace_and_runs_differ() -> None:
    config = SimConfig()
    a, b = generate_trace(config, steps=20, seed=3), generate_trace(config, steps=20, seed=3)
    assert np.array_equal(a.cycles, b.cycles) and np.array_equal(a.shadowing_db, b.shadowing_db)
    assert a.cycles.shape == (21,) and a.shadowing_db.shape == (21, 5, 5)
    runs = generate_traces(config, steps=5, runs=3, seed=1)
    assert len({r.seed for r in runs}) == 3
    assert [r.seed for r in runs] == [r.seed for r in generate_traces(config, steps=5, runs=3, seed=1)]
    assert a.gap_s[0] == 0.0
    assert np.all((a.items >= config.items_min) & (a.items <= config.items_max))


def test_queue_builds_and_drains_between_arrivals() -> None:
    config = SimConfig(n_nodes=2, block_transactions=0, append_bits=1.0e6, ack_bits=1.0e3)
    sim = ClusterSimulator(config, _trace([0.0, 0.25, 0.25, 10.0], [1.0e9, 1.0e9, 1.0e9, 1.0e9]))
    first = sim.assign(0)
    assert first.queueing_s == 0.0
    assert first.execution_s == pytest.approx(1.0)
    assert first.migration_s == pytest.approx(1.0e-3)
    second = sim.assign(0)  # 1e9 queued, 0.25 s × 1e9 worked off → 0.75 s wait
    assert second.queueing_s == pytest.approx(0.75)
    third = sim.assign(1)  # the idle fast node
    assert third.queueing_s == 0.0 and third.execution_s == pytest.approx(0.5)
    assert sim.done
    assert sim.backlog_cycles.tolist() == [0.0, 0.0]  # 10 s later all is done
    assert first.latency_s == pytest.approx(
        first.migration_s + first.queueing_s + first.execution_s + first.block_s + first.consensus_s
    )
    assert second.missed is (second.latency_s > 1.5)
    with pytest.raises(RuntimeError, match="exhausted"):
        sim.assign(0)


def test_view_matches_ground_truth() -> None:
    config = SimConfig(n_nodes=4)
    sim = ClusterSimulator(config, generate_trace(config, steps=3, seed=5))
    sim.assign(2)
    view = sim.view()
    assert view.n_nodes == 4 and len(view.link_bps) == 4
    assert view.backlog_cycles == tuple(sim.backlog_cycles.tolist())
    from orchestrator.policy.estimate import expected_latencies

    assert np.allclose(expected_latencies(view, sim.task()).total_s, sim.latencies().total_s)


def test_mismatched_trace_is_refused() -> None:
    with pytest.raises(ValueError, match="n_nodes"):
        ClusterSimulator(SimConfig(n_nodes=3), generate_trace(SimConfig(n_nodes=4), steps=2, seed=0))
