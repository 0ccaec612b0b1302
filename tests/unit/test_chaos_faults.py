"""The fault registry of `mecfab chaos` (no Docker: what each fault is, not what it does)."""

from __future__ import annotations

import pytest

from orchestrator.chaos.faults import FAULTS, create
from orchestrator.errors import ConfigError


def test_every_fault_of_issue_7_is_registered() -> None:
    assert sorted(FAULTS) == [
        "agent-partition",
        "follower-kill",
        "leader-kill",
        "network-restart",
        "peer-partition",
        "peer-restart",
        "two-orderers-kill",
    ]
    assert all(cls.summary for cls in FAULTS.values())


def test_only_faults_that_stop_ordering_wait_for_the_leader_after_the_heal() -> None:
    assert {n for n, cls in FAULTS.items() if cls.stops_ordering} == {"two-orderers-kill", "network-restart"}
    assert {n for n, cls in FAULTS.items() if cls.needs_agents} == {"agent-partition"}


def test_an_unknown_fault_is_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown fault 'leader-kil'; choose one of agent-partition, follower-kill"):
        create("leader-kil")
