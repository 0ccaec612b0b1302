"""Issue 7 in CI: kill the Raft leader under light load, then check nothing acknowledged is lost."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.network import NetworkSpec, raft_leaders

from . import waits

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def ready_again(live_network: NetworkSpec) -> Iterator[None]:
    """A fault heals by starting containers, which are not ready then (TLS listeners, a leader,
    gossip membership): whatever happened, the tests after these get the network as ``up`` leaves it."""
    yield
    waits.wait_network_ready(live_network)


def test_leader_kill_under_load_loses_nothing_and_the_audit_passes(live_network: NetworkSpec, tmp_path: Path) -> None:
    from orchestrator.chaos import run_scenario

    # the leader to be killed: the one there is, not a moment of an election
    before = set(waits.wait_until("one leader", lambda: [n.host for n in raft_leaders(live_network)], _one))
    result = run_scenario(live_network, "leader-kill", out=tmp_path / "chaos", tps=4, before_s=5, fault_s=6, after_s=25)
    assert result.description.startswith("killed leader") and result.description.split()[-1] in before
    assert result.committed > 0 and result.sent >= result.committed
    assert result.leader_change_s is not None, "a new leader must be elected"
    assert result.recovery_s is not None, "throughput must come back after the election"
    assert result.lost == 0 and result.phantom == 0
    assert result.peers_agree and result.audit_ok, result.violations
    assert len(raft_leaders(live_network)) == 1
    assert (tmp_path / "chaos" / "result.json").exists()


def _one(leaders: list[str]) -> bool:
    return len(leaders) == 1


def test_whole_network_restart_under_load_loses_nothing(live_network: NetworkSpec, tmp_path: Path) -> None:
    from orchestrator.chaos import run_scenario

    result = run_scenario(
        live_network, "network-restart", out=tmp_path / "restart", tps=4, before_s=5, fault_s=5, after_s=30
    )
    assert result.description.startswith("stopped all")
    assert result.failed_during_fault > 0, "nothing can commit while every node is down"
    assert result.leader_change_s is not None, "the restarted orderers must elect a leader"
    assert result.recovery_s is not None, "throughput must come back after the restart"
    assert result.lost == 0 and result.phantom == 0
    assert result.peers_agree and result.audit_ok, result.violations
    assert len(raft_leaders(live_network)) == 1


def test_agent_partition_needs_running_agents(live_network: NetworkSpec) -> None:
    from orchestrator import engine
    from orchestrator.chaos.faults import create
    from orchestrator.errors import NetworkError

    with pytest.raises(NetworkError, match=r"no running agent agent\.edge4\.mec: start the agents first"):
        create("agent-partition").inject(engine.connect(), live_network)
