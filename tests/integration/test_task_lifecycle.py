"""Issue 3 on the live network: the task lifecycle across two edges, privacy of payload and
result (implicit org collections), the two-party state-based endorsement, escrow and expiry."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from orchestrator.gateway import CommitError, GatewayError
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec

from . import waits

pytestmark = pytest.mark.integration
# Seconds from the request to the deadline of the task that expires: the award (five transactions,
# each committed on every peer) must come first on a busy host too. The expiry waits for exactly it.
EXPIRY_DEADLINE_S = 15


def _request(requester: Ledger, payload: bytes, *, deadline_s: int, synced: NetworkSpec | None = None) -> str:
    """A task request with its payload; with ``synced``, returns once every peer committed it."""
    task_id = f"lc-{uuid.uuid4().hex[:10]}"
    result = requester.request_task(
        task_id,
        cpu_cycles=3_000_000_000,
        input_bytes=len(payload),
        deadline_unix=int(time.time()) + deadline_s,
        max_price=500,
        payload_hash=hashlib.sha256(payload).hexdigest(),
        payload=payload,
    )
    if synced is not None:
        waits.synced(synced, result)
    return task_id


def _shortlist_and_award(spec: NetworkSpec, orgs: dict[str, Ledger], task_id: str, payload: bytes, price: int) -> None:
    """Each step is endorsed by another org's peer than the last one committed on: every peer
    commits each step before the next (the request too: call ``_request`` with ``synced``)."""
    waits.synced(spec, orgs["Cloud"].shortlist(task_id, ["Edge2MSP", "Edge3MSP"]))
    waits.synced(spec, orgs["Edge2"].offer(task_id, willing=True, price=price, estimated_seconds=5))
    waits.synced(spec, orgs["Edge3"].offer(task_id, willing=False))
    waits.synced(spec, orgs["Edge1"].award(task_id, "Edge2MSP", price, payload=payload))


def test_full_lifecycle_moves_credits_and_keeps_payload_and_result_private(
    orgs: dict[str, Ledger], live_network: NetworkSpec
) -> None:
    payload, result = b"matrix 4096x4096 " + uuid.uuid4().bytes, b"eigenvalues " + uuid.uuid4().bytes
    waits.wait_converged(live_network)  # the Cloud's peer has every block of earlier tests
    before = {m: orgs["Cloud"].balance(m)["balance"] for m in ("Edge1MSP", "Edge2MSP")}
    task_id = _request(orgs["Edge1"], payload, deadline_s=600, synced=live_network)
    _shortlist_and_award(live_network, orgs, task_id, payload, price=120)

    # read through the peer that reported the commit: another org's peer may be a block behind
    task = orgs["Edge1"].read_task(task_id)
    assert (task["status"], task["executor"], task["escrow"]) == ("AWARDED", "Edge2MSP", 120)
    assert orgs["Edge2"].read_payload(task_id) == payload
    assert orgs["Edge1"].read_payload(task_id) == payload
    for outsider in ("Edge3", "Cloud"):
        with pytest.raises(GatewayError, match="holds no payload"):
            orgs[outsider].read_payload(task_id)
    assert orgs["Cloud"].verify_payload(task_id, payload)["matches"] is True
    assert orgs["Cloud"].verify_payload(task_id, b"forged")["matches"] is False

    waits.synced(live_network, orgs["Edge2"].submit_result(task_id, result))
    assert orgs["Edge1"].read_result(task_id) == result
    with pytest.raises(GatewayError):
        orgs["Edge3"].read_result(task_id)
    orgs["Edge1"].settle(task_id)

    after = {m: orgs["Edge1"].balance(m)["balance"] for m in ("Edge1MSP", "Edge2MSP")}
    assert after["Edge1MSP"] == before["Edge1MSP"] - 120
    assert after["Edge2MSP"] == before["Edge2MSP"] + 120
    statuses = [h["value"]["status"] for h in orgs["Edge1"].task_history(task_id) if h.get("value")]
    assert statuses[0] == "REQUESTED" and statuses[-1] == "SETTLED"
    assert "AWARDED" in statuses and "COMPLETED" in statuses
    assert task_id in {t["taskId"] for t in orgs["Edge1"].tasks_by_status("SETTLED")}
    assert orgs["Edge1"].audit_credits()["balanced"] is True


def test_executor_alone_cannot_change_an_awarded_task(orgs: dict[str, Ledger], live_network: NetworkSpec) -> None:
    payload = b"sbe " + uuid.uuid4().bytes
    task_id = _request(orgs["Edge1"], payload, deadline_s=600, synced=live_network)
    _shortlist_and_award(live_network, orgs, task_id, payload, price=10)
    result = b"forged alone"
    with pytest.raises(CommitError) as err:
        orgs["Edge2"].contract.submit(
            "SubmitResult",
            task_id,
            hashlib.sha256(result).hexdigest(),
            transient={"result": result},
            endorsing_orgs=["Edge2MSP"],
        )
    assert err.value.code_name == "ENDORSEMENT_POLICY_FAILURE"
    waits.wait_for_block(live_network, err.value.block_number)  # the Cloud's peer has validated it too
    assert orgs["Cloud"].read_task(task_id)["status"] == "AWARDED"


def test_expiry_returns_the_escrow_and_lowers_the_executor_reputation(
    orgs: dict[str, Ledger], live_network: NetworkSpec
) -> None:
    payload = b"late " + uuid.uuid4().bytes
    waits.wait_converged(live_network)  # Edge1's peer has every block of earlier tests
    rep_before = orgs["Edge1"].balance("Edge2MSP")["reputation"]
    balance_before = orgs["Edge1"].balance("Edge1MSP")["balance"]
    task_id = _request(orgs["Edge1"], payload, deadline_s=EXPIRY_DEADLINE_S, synced=live_network)
    _shortlist_and_award(live_network, orgs, task_id, payload, price=50)
    assert orgs["Edge1"].balance("Edge1MSP")["balance"] == balance_before - 50
    deadline = orgs["Cloud"].read_task(task_id)["deadline"]
    print(f"\nawarded {deadline - time.time():.1f} s before the deadline")
    with pytest.raises(GatewayError, match="deadline"):
        orgs["Cloud"].expire(task_id)  # too early: refused at endorsement
    waits.wait_past_deadline(deadline)
    orgs["Cloud"].expire(task_id)
    assert orgs["Cloud"].read_task(task_id)["status"] == "EXPIRED"
    assert orgs["Cloud"].balance("Edge1MSP")["balance"] == balance_before
    assert orgs["Cloud"].balance("Edge2MSP")["reputation"] < rep_before
    assert orgs["Cloud"].audit_credits()["balanced"] is True


def test_audit_passes_after_the_lifecycle_and_catches_a_tampered_block(live_network: NetworkSpec) -> None:
    import dataclasses

    from orchestrator.audit import audit, check_chain
    from orchestrator.gateway.deliver import blocks

    report = audit(live_network)
    assert report.ok, report.violations
    assert report.tasks >= 3 and report.transactions >= report.valid > 10
    assert report.credits["balanced"] is True
    waits.wait_for_block(live_network, report.height - 1)  # Edge3's peer may lag the Cloud's
    with Ledger.connect(live_network, "Edge3") as edge3:
        chain = list(blocks(edge3._gateway, live_network.topology.channel))
    assert len(chain) >= report.height
    chain[2] = dataclasses.replace(chain[2], data_hash=bytes(32))
    assert {v.check for v in check_chain(chain)} == {"data-hash"}


# ---- the caller x transaction table, live: every role that must not call a transaction --------
# Roles on one task: requester Edge1, executor Edge2, a candidate that was not awarded Edge3,
# a registered outsider Edge4, and the Cloud.
Call = Callable[[Ledger], Any]
REFUSED: list[tuple[str, str, str]] = []  # (transaction, caller, the peer's refusal), printed at the end


def _snapshot(spec: NetworkSpec, orgs: dict[str, Ledger], task_id: str) -> tuple[Any, ...]:
    heights = waits.wait_converged(spec)  # every peer has every block: the Cloud's state is the latest
    cloud = orgs["Cloud"]
    balances = {m: cloud.balance(m) for m in ("Edge1MSP", "Edge2MSP", "Edge3MSP", "Edge4MSP")}
    return (cloud.read_task(task_id), len(cloud.task_history(task_id)), cloud.offers(task_id), balances, heights)


def _refuse(
    spec: NetworkSpec, orgs: dict[str, Ledger], task_id: str, cases: list[tuple[str, list[str], Call, str]]
) -> None:
    """Each (transaction, callers, call, refusal) is refused at endorsement, and nothing is written."""
    before = _snapshot(spec, orgs, task_id)
    for function, callers, call, refusal in cases:
        for caller in callers:
            with pytest.raises(GatewayError) as err:
                call(orgs[caller])
            text = str(err.value)
            expected = refusal.format(msp=f"{caller}MSP")
            assert expected in text, f"{function} by {caller}: {text}"
            REFUSED.append((function, caller, expected))
    assert _snapshot(spec, orgs, task_id) == before, "a refused call wrote something"


def test_every_transaction_refuses_every_role_that_must_not_call_it(
    orgs: dict[str, Ledger], live_network: NetworkSpec
) -> None:
    spec = live_network
    payload, result = b"roles " + uuid.uuid4().bytes, b"done " + uuid.uuid4().bytes
    task_id = _request(orgs["Edge1"], payload, deadline_s=600, synced=spec)
    not_requester = "org {msp} is not the requester of task " + task_id
    _refuse(
        spec,
        orgs,
        task_id,
        [
            (
                "RegisterEdge",
                ["Cloud"],
                lambda o: o.register_edge(cpu_cycles_per_sec=1, memory_mb=1, price_per_gigacycle=1),
                "org CloudMSP is the cloud and cannot register as an edge",
            ),
            (
                "RequestTask",
                ["Cloud"],
                lambda o: _request(o, payload, deadline_s=600),
                "org CloudMSP is the cloud and cannot request tasks",
            ),
            (
                "Shortlist",
                ["Edge1", "Edge2", "Edge4"],
                lambda o: o.shortlist(task_id, ["Edge2MSP"]),
                "org {msp} is not the cloud and cannot shortlist tasks",
            ),
        ],
    )
    waits.synced(spec, orgs["Cloud"].shortlist(task_id, ["Edge2MSP", "Edge3MSP"]))
    _refuse(
        spec,
        orgs,
        task_id,
        [
            (
                "Offer",
                ["Edge1", "Edge4", "Cloud"],
                lambda o: o.offer(task_id, willing=True, price=5, estimated_seconds=5),
                "org {msp} is not shortlisted for task " + task_id,
            ),
        ],
    )
    waits.synced(spec, orgs["Edge2"].offer(task_id, willing=True, price=40, estimated_seconds=5))
    waits.synced(spec, orgs["Edge3"].offer(task_id, willing=False))
    _refuse(
        spec,
        orgs,
        task_id,
        [
            (
                "Award",
                ["Edge2", "Edge3", "Edge4"],
                lambda o: o.award(task_id, "Edge2MSP", 40, payload=payload),
                not_requester,
            ),
            (
                "Award",
                ["Cloud"],
                lambda o: o.award(task_id, "Edge2MSP", 40),
                f"org CloudMSP may not award task {task_id}: the requester did not delegate the award",
            ),
        ],
    )
    waits.synced(spec, orgs["Edge1"].award(task_id, "Edge2MSP", 40, payload=payload))
    _refuse(
        spec,
        orgs,
        task_id,
        [
            (
                "SendPayload",
                ["Edge2", "Edge3", "Edge4", "Cloud"],
                lambda o: o.send_payload(task_id, payload),
                not_requester,
            ),
            (
                "SubmitResult",
                ["Edge1", "Edge3", "Edge4", "Cloud"],
                lambda o: o.submit_result(task_id, result),
                "org {msp} is not the executor of task " + task_id,
            ),
            (
                "TransferOwnership",
                ["Edge2", "Edge3", "Edge4", "Cloud"],
                lambda o: o.transfer_ownership(task_id, "Edge3MSP"),
                not_requester,
            ),
        ],
    )
    waits.synced(spec, orgs["Edge1"].transfer_ownership(task_id, "Edge4MSP"))
    _refuse(
        spec,
        orgs,
        task_id,
        [
            (
                "AcceptOwnership",
                ["Edge1", "Edge2", "Edge3", "Cloud"],
                lambda o: o.accept_ownership(task_id, max_escrow=40),
                "org {msp} is not the pending owner of task " + task_id,
            ),
        ],
    )
    waits.synced(spec, orgs["Edge2"].submit_result(task_id, result))
    _refuse(
        spec,
        orgs,
        task_id,
        [
            ("Settle", ["Edge2"], lambda o: o.settle(task_id), f"org Edge2MSP may settle task {task_id} only from"),
            ("Settle", ["Edge3", "Edge4", "Cloud"], lambda o: o.settle(task_id), not_requester),
            (
                "Dispute",
                ["Edge2", "Edge3", "Edge4", "Cloud"],
                lambda o: o.dispute(task_id, "bad result"),
                not_requester,
            ),
        ],
    )
    orgs["Edge1"].settle(task_id)

    late = _request(orgs["Edge1"], payload, deadline_s=3, synced=spec)
    waits.wait_past_deadline(orgs["Edge1"].read_task(late)["deadline"])  # the proposal time must pass it
    _refuse(
        spec,
        orgs,
        late,
        [
            (
                "Expire",
                ["Edge2", "Edge3", "Edge4"],
                lambda o: o.expire(late),
                f"org {{msp}} may not expire task {late}: only its requester, its executor or the Cloud may",
            ),
        ],
    )
    waits.synced(spec, orgs["Cloud"].expire(late))  # past its deadline: the Cloud closes it
    _refuse(
        spec,
        orgs,
        late,
        [
            (
                "Reassign",
                ["Edge2", "Edge3", "Edge4", "Cloud"],
                lambda o: o.reassign(late, deadline_unix=int(time.time()) + 600),
                "org {msp} is not the requester of task " + late,
            ),
        ],
    )
    covered = {function for function, _, _ in REFUSED}
    assert covered == {
        "RegisterEdge",
        "RequestTask",
        "Shortlist",
        "Offer",
        "Award",
        "SendPayload",
        "SubmitResult",
        "TransferOwnership",
        "AcceptOwnership",
        "Settle",
        "Dispute",
        "Expire",
        "Reassign",
    }
    print(f"\n{len(REFUSED)} refused calls, nothing written:")
    for function, caller, refusal in REFUSED:
        print(f"  {function:<18} {caller:<6} {refusal}")
