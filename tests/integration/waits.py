"""Waits for what an integration test needs next, each on the condition itself and with a deadline;
never a fixed sleep in the hope that something happened.

A commit is reported by the peer of the gateway that submitted it; another org's peer may still be a
block behind. Before a step is endorsed by, or read from, another peer, wait until every peer has
committed the block (:func:`synced`, :func:`wait_for_block`). Before comparing heights ("nothing was
written"), wait until every peer is at the same height (:func:`wait_converged`). Heights come from
each peer's operations endpoint (``ledger_blockchain_height``, set once a block's state and history
are committed), not from ``status()``, which also asks Docker and the peer CLI.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, TypeVar

from orchestrator import metrics
from orchestrator.network import raft_leaders, wait_chaincode_ready

if TYPE_CHECKING:
    from orchestrator.gateway import SubmitResult
    from orchestrator.network import NetworkSpec

T = TypeVar("T")
TIMEOUT = 30.0  # a block reaches every peer within a second or two; 30 s only bounds a failure


def wait_until(
    what: str,
    probe: Callable[[], T],
    done: Callable[[T], object] = bool,
    *,
    timeout: float = TIMEOUT,
    interval: float = 0.1,
) -> T:
    """The first value of ``probe()`` for which ``done(value)`` is true (default: a truthy value),
    polled every ``interval``; after ``timeout`` seconds the test fails, naming ``what`` and the last
    value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {value!r}")
        time.sleep(interval)


def peer_heights(spec: NetworkSpec, *, skip: Collection[str] = ()) -> dict[str, int | None]:
    """Each peer's ledger height on the channel, by host (None: its operations endpoint did not
    answer); without the peers of the orgs named in ``skip``."""
    t = spec.topology
    heights: dict[str, int | None] = {}
    for peer in t.peer_nodes:
        if peer.org.name in skip:
            continue
        samples = metrics.scrape(t.ports.bind, peer.operations_port)
        height = metrics.value(samples, "ledger_blockchain_height", channel=t.channel)
        heights[peer.host] = int(height) if height is not None else None
    return heights


def wait_for_block(
    spec: NetworkSpec, block_number: int, *, skip: Collection[str] = (), timeout: float = TIMEOUT
) -> dict[str, int | None]:
    """Every peer has committed block ``block_number`` (height above it), but those of the orgs named
    in ``skip`` (e.g. a revoked org's, which the orderer no longer serves). Returns the heights."""

    return wait_until(
        f"every peer to commit block {block_number}",
        lambda: peer_heights(spec, skip=skip),
        lambda heights: all(h is not None and h > block_number for h in heights.values()),
        timeout=timeout,
    )


def synced(
    spec: NetworkSpec, result: SubmitResult, *, skip: Collection[str] = (), timeout: float = TIMEOUT
) -> SubmitResult:
    """``result`` once every peer (but ``skip`` orgs') has committed its block: the next step may be
    endorsed or read by a peer other than the one that reported the commit."""
    wait_for_block(spec, result.block_number, skip=skip, timeout=timeout)
    return result


def wait_converged(spec: NetworkSpec, *, skip: Collection[str] = (), timeout: float = TIMEOUT) -> dict[str, int | None]:
    """Every peer (but ``skip`` orgs') answers and is at the same height: nothing is on its way to a
    lagging peer. Returns the heights (all equal), e.g. to check later that nothing was written."""

    return wait_until(
        "every peer at the same height",
        lambda: peer_heights(spec, skip=skip),
        lambda heights: len(set(heights.values())) == 1 and None not in heights.values(),
        timeout=timeout,
    )


def wait_past_deadline(deadline_unix: int, *, timeout: float = 120) -> None:
    """Until a transaction proposed from now on is past ``deadline_unix`` for the chaincode.

    Expire checks ``tx_seconds > deadline``, where ``tx_seconds`` is the whole seconds of the
    proposal's timestamp, taken from this host's clock when the proposal is built. So the wall clock
    must reach ``deadline + 1``: the wait is computed from the deadline (read it from the ledger),
    never a constant. ``timeout`` guards against a deadline far away by mistake."""
    target = deadline_unix + 1
    remaining = target - time.time()
    assert remaining <= timeout, f"deadline {deadline_unix} is {remaining:.0f} s away (more than {timeout:.0f} s)"
    while remaining > 0:
        time.sleep(remaining)
        remaining = target - time.time()


def wait_network_ready(spec: NetworkSpec, *, timeout: float = 120) -> None:
    """After nodes were stopped, killed or restarted: every node's ``/healthz`` answers OK, one
    consensus leader, and every org's gateway reaches the chaincode on every org's peer (gossip
    membership spread again), as ``up`` leaves the network."""
    bind = spec.topology.ports.bind

    def unhealthy() -> list[str]:
        return [n.host for n in spec.topology.nodes if not metrics.healthz(bind, n.operations_port)[0]]

    wait_until("every node healthy (unhealthy listed)", unhealthy, lambda hosts: not hosts, timeout=timeout)
    wait_until(
        "one consensus leader",
        lambda: [n.host for n in raft_leaders(spec)],
        lambda hosts: len(hosts) == 1,
        timeout=timeout,
    )
    wait_chaincode_ready(spec, timeout=timeout)
