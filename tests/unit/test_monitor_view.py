"""From measurements to the policies' view, and from one pick to a ranked shortlist."""

from __future__ import annotations

from typing import ClassVar

import pytest

from orchestrator.errors import ConfigError
from orchestrator.monitor.sampler import docker_numbers
from orchestrator.monitor.view import cluster_view, rank, subset, task_spec
from orchestrator.policy import ClusterView, SelectionPolicy, TaskSpec, create_policy

NODES = ("Edge2MSP", "Edge3MSP", "Edge4MSP")


def _view(backlog: dict[str, float], capacity: dict[str, float] | None = None) -> ClusterView:
    return cluster_view(NODES, capacity_hz=capacity or dict.fromkeys(NODES, 2e9), backlog_cycles=backlog)


TASK = task_spec("t", cycles=10**9, input_bytes=65536, deadline=160.0, now=100.0)


def test_task_spec_and_view_from_measurements() -> None:
    assert (TASK.items, TASK.item_bits, TASK.cycles, TASK.deadline_s) == (1, 65536 * 8, 1e9, 60.0)
    view = cluster_view(NODES, capacity_hz={"Edge2MSP": 3e9}, backlog_cycles={"Edge3MSP": 5e9})
    assert view.capacity_hz == (3e9, 1e9, 1e9)  # unknown capacities count as 1 GHz
    assert view.backlog_cycles == (0.0, 5e9, 0.0)
    assert len(view.link_bps) == 3 and view.link_bps[0][1] == 1e9


def test_least_loaded_ranks_by_queue_drain_time() -> None:
    view = _view({"Edge2MSP": 8e9, "Edge3MSP": 1e9, "Edge4MSP": 4e9})
    assert rank(create_policy("least-loaded"), view, TASK, 3) == ["Edge3MSP", "Edge4MSP", "Edge2MSP"]
    assert rank(create_policy("least-loaded"), view, TASK, 1) == ["Edge3MSP"]


def test_auction_prefers_the_fast_idle_node() -> None:
    view = _view({}, {"Edge2MSP": 1e9, "Edge3MSP": 4e9, "Edge4MSP": 2e9})
    assert rank(create_policy("auction"), view, TASK, 2) == ["Edge3MSP", "Edge4MSP"]


def test_random_and_round_robin_give_distinct_candidates() -> None:
    view = _view({})
    for name in ("random", "round-robin"):
        picked = rank(create_policy(name), view, TASK, 3)
        assert sorted(picked) == sorted(NODES)


def test_subset_keeps_rows_and_columns() -> None:
    view = _view({"Edge4MSP": 7.0})
    sub = subset(view, [2, 0])
    assert sub.node_ids == ("Edge4MSP", "Edge2MSP") and sub.backlog_cycles == (7.0, 0.0)
    assert len(sub.link_bps) == 2 and len(sub.link_bps[0]) == 2


class _FixedSize(SelectionPolicy):
    """Like the DDPG policy: a fixed N, and it prefers the last node."""

    name: ClassVar[str] = "fixed"
    n_nodes = 3

    def select(self, view: ClusterView, task: TaskSpec) -> int:
        if view.n_nodes != self.n_nodes:
            raise ConfigError(f"trained for N={self.n_nodes}, the view has N={view.n_nodes}")
        return view.n_nodes - 1


def test_a_fixed_size_policy_picks_first_and_least_loaded_ranks_the_rest() -> None:
    view = _view({"Edge2MSP": 9e9, "Edge3MSP": 1e9, "Edge4MSP": 5e9})
    assert rank(_FixedSize(), view, TASK, 3) == ["Edge4MSP", "Edge3MSP", "Edge2MSP"]
    smaller = subset(view, [0, 1])  # one edge offline: the policy refuses, least-loaded ranks all
    assert rank(_FixedSize(), smaller, TASK, 2) == ["Edge3MSP", "Edge2MSP"]
    with pytest.raises(ConfigError, match="at least one candidate"):
        rank(_FixedSize(), view, TASK, 0)


def test_docker_stats_numbers() -> None:
    sample = {
        "cpu_stats": {"cpu_usage": {"total_usage": 3_000}, "system_cpu_usage": 20_000, "online_cpus": 2},
        "precpu_stats": {"cpu_usage": {"total_usage": 1_000}, "system_cpu_usage": 10_000},
        "memory_stats": {"usage": 300 * 2**20, "stats": {"inactive_file": 100 * 2**20}},
        "networks": {"eth0": {"rx_bytes": 10, "tx_bytes": 20}, "eth1": {"rx_bytes": 1, "tx_bytes": 2}},
    }
    assert docker_numbers(sample) == (40.0, 200.0, 11.0, 22.0)  # 2000/10000 x 2 cpus x 100
    assert docker_numbers({}) == (0.0, 0.0, 0.0, 0.0)
