"""The wait before a consenter change: Fabric's consensus gauges in, reasons (or go) out."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import consensus_health as ch
from orchestrator import metrics
from orchestrator.consensus_health import Assessment, ConsenterSample, assess
from orchestrator.errors import NetworkError
from orchestrator.metrics import parse_prometheus
from orchestrator.topology import load_topology


def _raft(n: int, *, leader: int = 0, committed: int = 10) -> list[ConsenterSample]:
    return [
        ConsenterSample(
            f"orderer{i + 1}", answered=True, cluster_size=n, active_nodes=n, committed=committed, is_leader=i == leader
        )
        for i in range(n)
    ]


def _bft(n: int, *, leader: int = 0) -> list[ConsenterSample]:
    return [
        ConsenterSample(
            f"orderer{i + 1}",
            answered=True,
            cluster_size=n,
            committed=7,
            is_leader=i == leader,
            leader_id=leader + 1,
            own_id=i + 1,
        )
        for i in range(n)
    ]


def test_a_healthy_raft_or_bft_cluster_is_fit() -> None:
    assert assess(_raft(5), consensus="etcdraft").healthy
    assert assess(_bft(4), consensus="bft").healthy


def test_the_issue_16_refusal_is_predicted_and_names_the_view() -> None:
    """Two orderers added, the leader's view still 3 of 5 active: Fabric would refuse removing the leader."""
    samples = [dataclasses.replace(s, active_nodes=3) for s in _raft(5)]
    state = assess(samples, consensus="etcdraft", leaving="orderer1")
    assert not state.healthy
    assert "the leader orderer1" not in state.describe()  # the leaving leader's own view does not count
    assert "orderer2 sees 3 of 5 consenters active" in state.describe()
    state = assess(samples, consensus="etcdraft")
    assert "the leader orderer1 sees 3 of 5 consenters active" in state.problems


def test_each_not_ready_consenter_is_named_with_its_reason() -> None:
    samples = _raft(5)
    samples[3] = ConsenterSample("orderer4", answered=False)
    samples[4] = dataclasses.replace(samples[4], committed=4)
    samples[2] = dataclasses.replace(samples[2], cluster_size=4)
    state = assess(samples, consensus="etcdraft")
    assert state.not_ready == (
        "orderer3 (runs a config with 4 consenters, not 5)",
        "orderer4 (no answer on its operations port)",
        "orderer5 (at block 4, the leader at 10)",
    )
    assert not state.problems


def test_no_leader_or_two_leaders_is_a_problem() -> None:
    none = [dataclasses.replace(s, is_leader=False) for s in _raft(3)]
    assert assess(none, consensus="etcdraft").problems == ("no consensus leader",)
    two = [dataclasses.replace(s, is_leader=s.name != "orderer3") for s in _raft(3)]
    assert assess(two, consensus="etcdraft").problems == ("2 nodes claim leadership (orderer1, orderer2)",)


def test_bft_follower_of_another_leader_is_not_ready() -> None:
    samples = _bft(4)
    samples[2] = dataclasses.replace(samples[2], leader_id=3)
    assert assess(samples, consensus="bft").not_ready == ("orderer3 (follows leader 3, not 1)",)


def test_a_dead_leaving_orderer_may_be_removed_when_the_others_see_it_gone() -> None:
    samples = [dataclasses.replace(s, active_nodes=4) for s in _raft(5)]
    samples[4] = ConsenterSample("orderer5", answered=False)
    assert assess(samples, consensus="etcdraft", leaving="orderer5").healthy
    assert not assess(samples, consensus="etcdraft", leaving="orderer2").healthy
    assert not assess(samples, consensus="etcdraft").healthy


@given(
    n=st.integers(min_value=1, max_value=9),
    lag=st.lists(st.integers(min_value=0, max_value=3), min_size=9, max_size=9),
    active=st.lists(st.integers(min_value=0, max_value=9), min_size=9, max_size=9),
    down=st.lists(st.booleans(), min_size=9, max_size=9),
)
def test_healthy_exactly_when_every_consenter_answers_is_caught_up_and_sees_all_active(
    n: int, lag: list[int], active: list[int], down: list[bool]
) -> None:
    samples = [
        ConsenterSample("orderer1", answered=True, cluster_size=n, active_nodes=active[0], committed=20, is_leader=True)
    ] + [
        ConsenterSample(f"orderer{i + 1}", answered=False)
        if down[i]
        else ConsenterSample(
            f"orderer{i + 1}", answered=True, cluster_size=n, active_nodes=active[i], committed=20 - lag[i]
        )
        for i in range(1, n)
    ]
    state = assess(samples, consensus="etcdraft")
    followers_ready = all(not down[i] and lag[i] == 0 for i in range(1, n))
    every_view_full = all((s.active_nodes or 0) >= n for s in samples if s.answered)
    expected = followers_ready and every_view_full
    assert state.healthy == expected
    bad = {f"orderer{i + 1}" for i in range(1, n) if down[i] or lag[i] > 0}
    assert {r.split(" ", 1)[0] for r in state.not_ready} == bad


def test_sample_reads_fabrics_gauges(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "\n".join(
        [
            "# HELP consensus_etcdraft_active_nodes Number of active nodes in this channel.",
            'consensus_etcdraft_active_nodes{channel="mec"} 4',
            'consensus_etcdraft_active_nodes{channel="other"} 1',
            'consensus_etcdraft_cluster_size{channel="mec"} 5',
            'consensus_etcdraft_committed_block_number{channel="mec"} 42',
            'consensus_etcdraft_is_leader{channel="mec"} 1',
        ]
    )
    topology = load_topology()
    node = topology.orderers_nodes[1]
    seen: list[tuple[str, int]] = []

    def scrape(host: str, port: int) -> list[object]:
        seen.append((host, port))
        return parse_prometheus(text)  # type: ignore[return-value]

    monkeypatch.setattr(metrics, "scrape", scrape)
    got = ch.sample(topology, node)
    assert got == ConsenterSample(
        node.short, answered=True, cluster_size=5, active_nodes=4, committed=42, is_leader=True, leader_id=None
    )
    assert seen == [(topology.ports.bind, node.operations_port)]
    monkeypatch.setattr(metrics, "scrape", lambda host, port: [])
    assert ch.sample(topology, node) == ConsenterSample(node.short, answered=False)


def test_check_compares_the_others_with_the_leaders_block_scraped_first(monkeypatch: pytest.MonkeyPatch) -> None:
    topology = load_topology()
    reads: list[str] = []
    blocks = {"orderer1": [9, 9], "orderer2": [12, 12], "orderer3": [8, 11]}  # orderer2 leads

    def sample(t: object, node: object) -> ConsenterSample:
        name = node.short  # type: ignore[attr-defined]
        reads.append(name)
        committed = blocks[name].pop(0)
        return ConsenterSample(
            name, answered=True, cluster_size=3, active_nodes=3, committed=committed, is_leader=name == "orderer2"
        )

    monkeypatch.setattr(ch, "sample", sample)
    state = ch.check(topology)
    assert reads == ["orderer1", "orderer2", "orderer3", "orderer1", "orderer3"]  # the leader is not re-read
    assert state.not_ready == ("orderer1 (at block 9, the leader at 12)", "orderer3 (at block 11, the leader at 12)")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_returns_as_soon_as_the_cluster_is_healthy_and_says_once_why_it_waits() -> None:
    clock = _Clock()
    answers = [Assessment(("orderer5 (at block 3, the leader at 9)",), ()), Assessment((), ("no consensus leader",))]
    answers.append(Assessment((), ()))
    told: list[str] = []
    leaving_seen: list[str | None] = []

    def probe(topology: object, *, leaving: str | None) -> Assessment:
        leaving_seen.append(leaving)
        return answers.pop(0)

    state = ch.wait_healthy(
        load_topology(),
        before="remove consenter x",
        leaving="orderer2",
        probe=probe,
        clock=clock,
        sleep=clock.sleep,
        progress=told.append,
        interval=1,
    )
    assert state.healthy and clock.now == 2
    assert leaving_seen == ["orderer2"] * 3
    assert told == ["waiting for every consenter to be active and caught up (orderer5 (at block 3, the leader at 9))"]


def test_wait_refuses_after_the_timeout_with_one_line_naming_the_consenters() -> None:
    clock = _Clock()
    stuck = Assessment(
        ("orderer4 (no answer on its operations port)",), ("the leader orderer1 sees 3 of 5 consenters active",)
    )
    with pytest.raises(NetworkError) as info:
        ch.wait_healthy(
            load_topology(),
            before="add consenter orderer6.orderer.mec:7050",
            timeout=10,
            probe=lambda t, leaving: stuck,
            clock=clock,
            sleep=clock.sleep,
        )
    message = str(info.value)
    assert "\n" not in message
    assert message == (
        "refusing to add consenter orderer6.orderer.mec:7050: the ordering cluster is not healthy after 10 s "
        "(the leader orderer1 sees 3 of 5 consenters active; orderer4 (no answer on its operations port))"
    )
    assert 10 < clock.now <= 11


def test_a_restarted_bft_leader_that_still_claims_its_old_view_is_not_the_leader() -> None:
    """SmartBFT reports is_leader/leader_id from the last block a node ordered: orderer1, killed as
    leader and restarted after orderer2 took over, claims to lead until it orders a block."""
    samples = _bft(4, leader=1)  # orderer2 leads, everyone names 2
    samples[0] = dataclasses.replace(samples[0], is_leader=True, leader_id=1)
    assert [s.name for s in ch.leaders(samples, consensus="bft")] == ["orderer2"]
    state = assess(samples, consensus="bft")
    assert state.not_ready == ("orderer1 (follows leader 1, not 2)",) and not state.problems
    # etcdraft has no such gauge: two claimers are two claimers
    assert [s.name for s in ch.leaders(samples, consensus="etcdraft")] == ["orderer1", "orderer2"]


def test_without_a_majority_naming_one_of_them_every_bft_claimer_is_returned() -> None:
    samples = _bft(4, leader=1)
    samples[0] = dataclasses.replace(samples[0], is_leader=True, leader_id=1)
    samples[2] = dataclasses.replace(samples[2], leader_id=1)  # 2 name orderer1, 2 name orderer2
    assert [s.name for s in ch.leaders(samples, consensus="bft")] == ["orderer1", "orderer2"]
    assert "2 nodes claim leadership (orderer1, orderer2)" in assess(samples, consensus="bft").problems


def test_bft_samples_carry_the_consenter_id_the_config_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    topology = load_topology().with_overrides(consensus="bft")
    text = 'consensus_BFT_leader_id{channel="mec"} 3\nconsensus_BFT_is_leader{channel="mec"} 1\n'
    monkeypatch.setattr(metrics, "scrape", lambda host, port: parse_prometheus(text))
    got = [ch.sample(topology, n) for n in topology.orderers_nodes]
    assert [s.own_id for s in got] == [1, 2, 3, 4]
    assert all(s.leader_id == 3 and s.is_leader for s in got)
