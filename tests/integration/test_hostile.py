"""Contract v2 against a rogue client, on the live network (issue 17, docs/security.md "Attacks"):
a client that lies about time, a third edge that expires others' tasks, a candidate that raises its
offer between the requester's choice and the award, a transfer that would make the new owner pay an
escrow it never agreed to. Each attack is refused at endorsement, and afterwards every peer returns
the same task, offers and balances as before, at the same height."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.audit import audit
from orchestrator.gateway import EndorseError
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec

from . import waits

pytestmark = pytest.mark.integration
EDGES = ("Edge1MSP", "Edge2MSP", "Edge3MSP", "Edge4MSP")
OUTCOMES: list[tuple[str, str]] = []  # (attack, how it was refused), printed by the last test


def _request(requester: Ledger, spec: NetworkSpec, *, deadline_s: int = 600) -> str:
    task_id = f"hx-{uuid.uuid4().hex[:10]}"
    payload = b"hostile " + task_id.encode()
    result = requester.request_task(
        task_id,
        cpu_cycles=1_000_000_000,
        input_bytes=len(payload),
        deadline_unix=int(time.time()) + deadline_s,
        max_price=500,
        payload_hash=hashlib.sha256(payload).hexdigest(),
        payload=payload,
    )
    waits.synced(spec, result)
    return task_id


def _offered_by_edge2(orgs: dict[str, Ledger], spec: NetworkSpec, *, price: int) -> tuple[str, bytes]:
    """Edge1's task (ID, payload), shortlisted to Edge2 alone, which offered ``price``."""
    task_id = _request(orgs["Edge1"], spec)
    waits.synced(spec, orgs["Cloud"].shortlist(task_id, ["Edge2MSP"]))
    waits.synced(spec, orgs["Edge2"].offer(task_id, willing=True, price=price, estimated_seconds=5))
    return task_id, b"hostile " + task_id.encode()


def _everyones_view(spec: NetworkSpec, orgs: dict[str, Ledger], task_id: str) -> tuple[Any, ...]:
    """The ledger as every peer answers it, once they all have the same height; they must agree."""
    heights = waits.wait_converged(spec)
    views = []
    for ledger in orgs.values():
        balances = {m: ledger.balance(m)["balance"] for m in EDGES}
        views.append((ledger.read_task(task_id), ledger.offers(task_id), balances))
    assert all(v == views[0] for v in views), f"peers disagree on task {task_id}: {views}"
    return (*views[0], sorted(heights.values()))


def _refused(
    attack: str, spec: NetworkSpec, orgs: dict[str, Ledger], task_id: str, call: Callable[[], Any], refusal: str
) -> None:
    before = _everyones_view(spec, orgs, task_id)
    with pytest.raises(EndorseError) as err:
        call()
    assert refusal in str(err.value), str(err.value)
    assert _everyones_view(spec, orgs, task_id) == before, f"{attack}: the ledger changed"
    OUTCOMES.append((attack, f"endorsement refused: {refusal}"))


def _skewed(ledger: Ledger, seconds: int, function: str, *args: str) -> Any:
    """Endorse and submit ``function`` stamped ``seconds`` off the real time (a client clock that lies)."""
    stamp = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    proposal = ledger.contract.new_proposal(function, *args, endorsing_orgs=[ledger.msp_id], timestamp=stamp)
    return proposal.endorse().submit().status()


def test_a_client_clock_off_by_minutes_moves_no_deadline(orgs: dict[str, Ledger], live_network: NetworkSpec) -> None:
    spec = live_network
    task_id = _request(orgs["Edge1"], spec, deadline_s=600)
    # Fabric's own window (peer.authentication.timewindow) is 15 min: 14 min passes it, not ours.
    # An Expire stamped 14 min ahead would be past the deadline, 10 min away.
    for minutes in (14, 1):
        _refused(
            f"Expire stamped {minutes:+d} min, past the deadline by its own stamp",
            spec,
            orgs,
            task_id,
            lambda minutes=minutes: _skewed(orgs["Edge1"], minutes * 60, "Expire", task_id),
            "from this peer's clock",
        )
    # A whole request stamped in the past, with a deadline already in the real past: refused too.
    stale_id = f"hx-{uuid.uuid4().hex[:10]}"
    with pytest.raises(EndorseError, match="more than the 30 s allowed"):
        _skewed(
            orgs["Edge1"],
            -14 * 60,
            "RequestTask",
            stale_id,
            "1000",
            "1",
            str(int(time.time()) - 9 * 60),
            "10",
            "ab" * 32,
        )
    assert orgs["Cloud"].contract.evaluate("TaskExists", stale_id) == b"false"
    OUTCOMES.append(("RequestTask stamped -14 min, deadline 9 min in the past", "endorsement refused: skew"))


def test_a_third_edge_cannot_expire_another_edges_task(orgs: dict[str, Ledger], live_network: NetworkSpec) -> None:
    spec = live_network
    task_id = _request(orgs["Edge1"], spec, deadline_s=3)
    waits.wait_past_deadline(orgs["Edge1"].read_task(task_id)["deadline"])
    _refused(
        "Expire by a third edge",
        spec,
        orgs,
        task_id,
        lambda: orgs["Edge3"].expire(task_id),
        f"org Edge3MSP may not expire task {task_id}: only its requester, its executor or the Cloud may",
    )
    waits.synced(spec, orgs["Edge1"].expire(task_id))  # its requester may
    assert orgs["Cloud"].read_task(task_id)["status"] == "EXPIRED"


def test_a_raised_offer_is_not_awarded_at_the_new_price(orgs: dict[str, Ledger], live_network: NetworkSpec) -> None:
    spec = live_network
    task_id, payload = _offered_by_edge2(orgs, spec, price=40)
    # The requester chose Edge2 at 40; Edge2 re-offers at the task's maxPrice before the award.
    waits.synced(spec, orgs["Edge2"].offer(task_id, willing=True, price=500, estimated_seconds=5))
    _refused(
        "Award after the executor raised its offer",
        spec,
        orgs,
        task_id,
        lambda: orgs["Edge1"].award(task_id, "Edge2MSP", 40, payload=payload),
        f"the offer of Edge2MSP for task {task_id} is now 500, not the accepted price 40",
    )


def test_a_transfer_trap_costs_the_new_owner_nothing(orgs: dict[str, Ledger], live_network: NetworkSpec) -> None:
    spec = live_network
    task_id, payload = _offered_by_edge2(orgs, spec, price=40)
    waits.synced(spec, orgs["Edge1"].award(task_id, "Edge2MSP", 40, payload=payload))
    waits.synced(spec, orgs["Edge1"].transfer_ownership(task_id, "Edge4MSP"))
    _refused(
        "AcceptOwnership of an awarded task by an owner that agreed to pay nothing",
        spec,
        orgs,
        task_id,
        lambda: orgs["Edge4"].accept_ownership(task_id, max_escrow=0),
        f"task {task_id} holds escrow 40, more than the 0 org Edge4MSP agreed to pay",
    )


def test_a_sealed_payload_cannot_be_confirmed_by_a_third_org(
    orgs: dict[str, Ledger], live_network: NetworkSpec
) -> None:
    """A payload anyone could guess (here: known to the test) is requested twice by Edge1, sealed
    with a salt as the agents and the CLI do, and raw (the control). Edge3, a third org, holds the
    public task and every block: only the raw one's hash shows up in them."""
    from orchestrator.gateway.deliver import blocks
    from orchestrator.sealing import seal

    spec = live_network
    known = b"a payload a third org can guess " + uuid.uuid4().hex[:4].encode()
    guess = hashlib.sha256(known).digest()
    found: dict[str, bool] = {}
    for name, sent in (("sealed", seal(known)), ("raw", known)):
        task_id = f"hx-{name}-{uuid.uuid4().hex[:8]}"
        result = orgs["Edge1"].request_task(
            task_id,
            cpu_cycles=1_000_000_000,
            input_bytes=len(known),
            deadline_unix=int(time.time()) + 600,
            max_price=10,
            payload_hash=hashlib.sha256(sent).hexdigest(),
            payload=sent,
        )
        waits.synced(spec, result)
        public = orgs["Edge3"].read_task(task_id)
        [block] = blocks(
            orgs["Edge3"]._gateway, spec.topology.channel, start=result.block_number, stop=result.block_number
        )
        # Fabric's hashed write set of the private write is SHA-256 of the value written: in the block.
        assert hashlib.sha256(sent).digest() in block.raw
        found[name] = public["payloadHash"] == guess.hex() or guess in block.raw
        assert orgs["Edge1"].read_payload(task_id) == sent  # the requester keeps the sealed bytes
    assert found == {"sealed": False, "raw": True}, found
    OUTCOMES.append(("a third org confirms a guessed payload from public state or blocks", "sealed: no; raw: yes"))


def test_after_every_attack_the_credits_audit_passes(live_network: NetworkSpec) -> None:
    report = audit(live_network)
    assert report.ok, report.violations
    assert report.credits["balanced"] is True
    print(f"\n{len(OUTCOMES)} attacks by a rogue client:")
    for attack, outcome in OUTCOMES:
        print(f"  {attack:<72} {outcome}")
