"""Every baseline selection policy, the interface records and the registry."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.policy import (
    BASELINES,
    ClusterView,
    PolicyOptions,
    SelectionPolicy,
    TaskSpec,
    available_policies,
    create_policy,
    register_policy,
)
from orchestrator.policy.baselines import AuctionPolicy, RoundRobinPolicy

GOOD, BAD = 1.0e9, 1.0e6  # link rates, bit/s


def _view() -> ClusterView:
    """Three nodes built so that each informed policy picks a different one.

    edge0: slow CPU, idle, good links    → queue 0.0 s, execution 1.0 s, consensus ~0.002 s
    edge1: fast CPU, busy, good links    → queue 0.5 s, execution 0.25 s, consensus ~0.002 s
    edge2: fastest CPU, bit busy, bad links → queue 0.2 s, execution 0.125 s, consensus ~2 s
    """
    return ClusterView(
        node_ids=("edge0", "edge1", "edge2"),
        capacity_hz=(1.0e9, 4.0e9, 8.0e9),
        backlog_cycles=(0.0, 2.0e9, 1.6e9),
        link_bps=((0.0, GOOD, BAD), (GOOD, 0.0, BAD), (BAD, BAD, 0.0)),
        backhaul_bps=(1.0e9, 1.0e9, 1.0e9),
        block_cycles=0.0,
        append_bits=2.0e6,
        ack_bits=1.0e3,
    )


TASK = TaskSpec(task_id="t-1", items=0, item_bits=0.0, cycles=1.0e9, deadline_s=2.0)


def test_least_loaded_picks_the_shortest_queue() -> None:
    assert create_policy("least-loaded").select(_view(), TASK) == 0


def test_auction_picks_the_lowest_bid_of_completion_time() -> None:
    bids = AuctionPolicy.bids(_view(), TASK)
    assert bids.tolist() == pytest.approx([1.0, 0.75, 0.325])
    assert create_policy("auction").select(_view(), TASK) == 2


def test_min_latency_oracle_counts_consensus() -> None:
    # totals: edge0 1.002, edge1 0.752, edge2 0.325 + 2.001
    assert create_policy("min-latency").select(_view(), TASK) == 1


def test_least_loaded_breaks_ties_toward_the_faster_cpu() -> None:
    view = ClusterView(
        node_ids=("a", "b"),
        capacity_hz=(1.0e9, 3.0e9),
        backlog_cycles=(0.0, 0.0),
        link_bps=((0.0, GOOD), (GOOD, 0.0)),
        backhaul_bps=(1.0e9, 1.0e9),
        block_cycles=0.0,
        append_bits=1.0,
        ack_bits=1.0,
    )
    assert create_policy("least-loaded").select(view, TASK) == 1


def test_round_robin_cycles_and_resets() -> None:
    policy = RoundRobinPolicy()
    assert [policy.select(_view(), TASK) for _ in range(4)] == [0, 1, 2, 0]
    policy.reset()
    assert policy.select(_view(), TASK) == 0


def test_random_is_seeded_and_covers_every_node() -> None:
    a = create_policy("random", PolicyOptions(seed=7))
    b = create_policy("random", PolicyOptions(seed=7))
    picks = [a.select(_view(), TASK) for _ in range(300)]
    assert picks == [b.select(_view(), TASK) for _ in range(300)]
    assert set(picks) == {0, 1, 2}
    a.reset(seed=7)
    assert [a.select(_view(), TASK) for _ in range(300)] == picks


def test_single_node_cluster_works_for_every_baseline() -> None:
    view = ClusterView(
        node_ids=("only",),
        capacity_hz=(1.0e9,),
        backlog_cycles=(0.0,),
        link_bps=((0.0,),),
        backhaul_bps=(1.0e9,),
        block_cycles=0.0,
        append_bits=1.0,
        ack_bits=1.0,
    )
    for name in BASELINES:
        assert create_policy(name).select(view, TASK) == 0


def test_registry_lists_refuses_and_extends() -> None:
    assert set(BASELINES) | {"ddpg"} <= set(available_policies())
    with pytest.raises(ConfigError, match=r"unknown selection policy 'nope'.*least-loaded"):
        create_policy("nope")
    with pytest.raises(ConfigError, match="needs a trained policy file"):
        create_policy("ddpg")
    with pytest.raises(ConfigError, match="already registered"):
        register_policy("random", lambda options: RoundRobinPolicy())

    class Last(SelectionPolicy):
        name = "last"

        def select(self, view: ClusterView, task: TaskSpec) -> int:
            return view.n_nodes - 1

    register_policy("test-last", lambda options: Last())
    assert create_policy("test-last").select(_view(), TASK) == 2


def test_records_validate_their_input() -> None:
    with pytest.raises(ValueError, match="capacity_hz has 1 entries for 2 nodes"):
        ClusterView(
            node_ids=("a", "b"),
            capacity_hz=(1.0,),
            backlog_cycles=(0.0, 0.0),
            link_bps=((0.0, 1.0), (1.0, 0.0)),
            backhaul_bps=(1.0, 1.0),
            block_cycles=0.0,
            append_bits=1.0,
            ack_bits=1.0,
        )
    with pytest.raises(ValueError, match="cycles"):
        TaskSpec(task_id="t", items=1, item_bits=1.0, cycles=float("nan"), deadline_s=1.0)
    assert TaskSpec(task_id="t", items=3, item_bits=2.0, cycles=1.0, deadline_s=1.0).bits == 6.0
