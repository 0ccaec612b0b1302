"""The integration tests' waits (tests/integration/waits.py) on a fake clock and fake peer metrics:
each returns once its condition holds and fails the test when it does not within its timeout, so a
wait can never let a test pass without its condition."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from orchestrator import metrics
from orchestrator.gateway import SubmitResult
from orchestrator.gateway.client import PhaseTimings
from orchestrator.network import NetworkSpec
from orchestrator.topology import load_topology
from tests.integration import waits


class _Clock:
    """Wall and monotonic time that move only when the code under test sleeps."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock(1_700_000_000.25)
    monkeypatch.setattr(time, "time", lambda: fake.now)
    monkeypatch.setattr(time, "monotonic", lambda: fake.now)
    monkeypatch.setattr(time, "sleep", fake.sleep)
    return fake


@pytest.fixture
def spec(tmp_path: Path) -> NetworkSpec:
    topology = load_topology().with_overrides(edges=2)  # Cloud, Edge1, Edge2: three peers
    return NetworkSpec.isolated(tmp_path, project="mecfab-waits", topology=topology)


def _serve_heights(
    monkeypatch: pytest.MonkeyPatch, spec: NetworkSpec, clock: _Clock, at: dict[str, list[tuple[float, int]]]
) -> None:
    """Each peer host's height over time: [(from this clock time on, height), ...]; a host not
    listed does not answer."""
    by_port = {p.operations_port: p.host for p in spec.topology.peer_nodes}
    channel = spec.topology.channel

    def scrape(host: str, port: int, *, timeout: float = 2.0) -> list[metrics.Sample]:
        steps = [h for since, h in at.get(by_port[port], []) if since <= clock.now]
        if not steps:
            return []
        labels = (("channel", channel),)
        return [metrics.Sample("ledger_blockchain_height", labels, float(steps[-1]))]

    monkeypatch.setattr(metrics, "scrape", scrape)


def _result(block: int) -> SubmitResult:
    return SubmitResult(tx_id="t" * 64, result=b"", block_number=block, timings=PhaseTimings(0, 0, 0))


def test_synced_returns_once_every_peer_committed_the_block(
    monkeypatch: pytest.MonkeyPatch, spec: NetworkSpec, clock: _Clock
) -> None:
    t0 = clock.now
    heights = {"peer0.cloud.mec": [(t0, 8)], "peer0.edge1.mec": [(t0, 8)], "peer0.edge2.mec": [(t0, 7), (t0 + 1, 8)]}
    _serve_heights(monkeypatch, spec, clock, heights)
    result = _result(7)
    assert waits.synced(spec, result) is result
    assert t0 + 1 <= clock.now < t0 + 1.5  # waited for the lagging peer, not longer


def test_wait_for_block_fails_when_a_peer_never_commits_it_unless_its_org_is_skipped(
    monkeypatch: pytest.MonkeyPatch, spec: NetworkSpec, clock: _Clock
) -> None:
    t0 = clock.now
    _serve_heights(monkeypatch, spec, clock, {"peer0.cloud.mec": [(t0, 9)], "peer0.edge1.mec": [(t0, 4)]})
    with pytest.raises(AssertionError, match=r"block 5.*'peer0.edge1.mec': 4.*'peer0.edge2.mec': None"):
        waits.wait_for_block(spec, 5, timeout=3)
    assert clock.now - t0 == pytest.approx(3, abs=0.2)
    with pytest.raises(AssertionError, match="block 5"):  # a peer that does not answer is not there yet
        waits.wait_for_block(spec, 5, skip={"Edge1"}, timeout=1)
    assert waits.wait_for_block(spec, 5, skip={"Edge1", "Edge2"}) == {"peer0.cloud.mec": 9}


def test_wait_converged_needs_every_peer_answering_at_one_height(
    monkeypatch: pytest.MonkeyPatch, spec: NetworkSpec, clock: _Clock
) -> None:
    t0 = clock.now
    heights = {
        "peer0.cloud.mec": [(t0, 12)],
        "peer0.edge1.mec": [(t0 + 2, 12)],  # answers only after 2 s
        "peer0.edge2.mec": [(t0, 11), (t0 + 4, 12)],
    }
    _serve_heights(monkeypatch, spec, clock, heights)
    assert waits.wait_converged(spec) == dict.fromkeys(heights, 12)
    assert t0 + 4 <= clock.now < t0 + 4.5
    _serve_heights(monkeypatch, spec, clock, {"peer0.cloud.mec": [(t0, 12)], "peer0.edge1.mec": [(t0, 13)]})
    with pytest.raises(AssertionError, match="same height"):
        waits.wait_converged(spec, skip={"Edge2"}, timeout=2)


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.999])
def test_wait_past_deadline_ends_in_the_first_second_an_expire_proposal_is_past_it(
    clock: _Clock, fraction: float
) -> None:
    deadline = 1_700_000_010
    clock.now = deadline - 3 + fraction
    waits.wait_past_deadline(deadline)
    # the chaincode compares whole seconds: tx_seconds > deadline
    assert int(clock.now) == deadline + 1 and clock.now == pytest.approx(deadline + 1)


def test_wait_past_deadline_returns_at_once_when_it_has_passed_and_refuses_a_far_deadline(clock: _Clock) -> None:
    waits.wait_past_deadline(int(clock.now) - 1)
    assert clock.slept == []
    with pytest.raises(AssertionError, match="away"):
        waits.wait_past_deadline(int(clock.now) + 3600, timeout=120)
    assert clock.slept == []


def test_wait_until_returns_the_first_value_that_is_done_and_names_the_last_one_on_timeout(clock: _Clock) -> None:
    values = iter(range(100))
    assert waits.wait_until("three", lambda: next(values), lambda v: v == 3, interval=0.5) == 3
    assert clock.slept == [0.5, 0.5, 0.5]
    with pytest.raises(AssertionError, match=r"waiting for nothing; last seen: \[\]"):
        waits.wait_until("nothing", list, timeout=1)
