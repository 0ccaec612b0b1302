"""Chaincode events: parsed into task events; an event an agent cannot parse is logged and skipped."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orchestrator.agent import AgentSettings, EdgeAgent
from orchestrator.agent.events import EventParseError, parse_event
from orchestrator.errors import ConfigError
from orchestrator.gateway import ChaincodeEvent, Gateway, Identity
from orchestrator.ledger import Ledger

TASK: dict[str, Any] = {
    "docType": "task",
    "taskId": "t-17",
    "requester": "Edge1MSP",
    "status": "SHORTLISTED",
    "cpuCycles": 2_000_000_000,
    "inputBytes": 1024,
    "deadline": 1_750_000_065,
    "maxPrice": 120,
    "payloadHash": "ab" * 32,
    "requestedAt": 1_750_000_005,
    "requestTxId": "tx0",
    "delegateAward": False,
    "round": 1,
    "candidates": ["Edge2MSP", "Edge3MSP"],
    "executor": "",
    "price": 0,
    "estimatedSeconds": 0,
    "escrow": 0,
    "awardedAt": 0,
    "payloadDelivered": False,
    "resultHash": "",
    "completedAt": 0,
    "closedAt": 0,
    "disputeReason": "",
    "pendingOwner": "",
    "updatedAt": 1_750_000_005,
    "lastTxId": "tx1",
    "actor": "CloudMSP",
}


def _event(name: str, payload: object, *, raw: bytes | None = None) -> ChaincodeEvent:
    data = raw if raw is not None else json.dumps(payload).encode()
    return ChaincodeEvent(block_number=7, tx_id="tx1", chaincode="mectask", event_name=name, payload=data)


def test_a_task_event_is_parsed_with_its_public_fields() -> None:
    ev = parse_event(_event("TaskShortlisted", TASK))
    assert ev is not None
    assert (ev.task_id, ev.status, ev.round, ev.candidates) == ("t-17", "SHORTLISTED", 1, ("Edge2MSP", "Edge3MSP"))
    assert (ev.cycles, ev.deadline, ev.actor, ev.block) == (2_000_000_000, 1_750_000_065, "CloudMSP", 7)


def test_an_offer_event_carries_the_offer() -> None:
    offer = {
        "docType": "offer",
        "taskId": "t-17",
        "round": 1,
        "mspId": "Edge2MSP",
        "willing": True,
        "price": 40,
        "estimatedSeconds": 30,
        "offeredAt": 1,
        "txId": "tx2",
    }
    ev = parse_event(_event("TaskOffered", TASK | {"offer": offer}))
    assert ev is not None and ev.offer is not None
    assert (ev.offer.msp_id, ev.offer.willing, ev.offer.price, ev.offer.estimated_seconds) == ("Edge2MSP", True, 40, 30)


def test_events_that_are_not_about_tasks_are_none() -> None:
    assert parse_event(_event("EdgeRegistered", {"docType": "edge"})) is None


@pytest.mark.parametrize(
    ("name", "payload", "raw", "message"),
    [
        ("TaskAwarded", None, b"\xff not json", "payload is not JSON"),
        ("TaskAwarded", [1, 2], None, "not a JSON object"),
        ("TaskAwarded", {k: v for k, v in TASK.items() if k != "taskId"}, None, "'taskId' is missing"),
        ("TaskAwarded", TASK | {"cpuCycles": "many"}, None, "'cpuCycles' is 'many', not an integer"),
        ("TaskAwarded", TASK | {"candidates": "Edge2MSP"}, None, "not a list of MSP IDs"),
        ("TaskOffered", TASK, None, "without an 'offer' object"),
    ],
)
def test_malformed_events_raise_a_named_parse_error(
    name: str, payload: object, raw: bytes | None, message: str
) -> None:
    with pytest.raises(EventParseError, match=message) as err:
        parse_event(_event(name, payload, raw=raw))
    assert f"{name} in tx tx1" in str(err.value)


def _self_signed(key: ec.EllipticCurvePrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tlsca.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def offline_ledger(msp_id: str = "Edge2MSP") -> Ledger:
    """A ledger whose gateway points nowhere: gRPC connects lazily, so nothing is ever sent."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = _self_signed(key)
    gateway = Gateway(endpoint="127.0.0.1:9", tls_root_cert=pem, identity=Identity(msp_id, pem, key))
    contract = gateway.network("mec").contract("mectask")
    return Ledger(gateway, contract, org=msp_id.removesuffix("MSP"), msp_id=msp_id)


@pytest.fixture
def agent() -> Iterator[EdgeAgent]:
    ledger = offline_ledger()
    agent = EdgeAgent(ledger, AgentSettings())
    try:
        yield agent
    finally:
        agent.stop()
        ledger.close()


def test_an_agent_logs_an_event_it_cannot_parse_and_goes_on(agent: EdgeAgent, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        agent.handle_event(_event("TaskAwarded", None, raw=b"{broken"))
        agent.handle_event(_event("TaskAwarded", TASK | {"round": "one"}))
    assert agent.counters["parse_errors"] == 2
    assert agent.counters["events"] == 2
    assert sum("ignores an event it cannot parse" in r.message for r in caplog.records) == 2
    # it goes on: a well-formed event about other edges is taken in and, as it concerns nobody here, dropped
    agent.handle_event(
        _event("TaskAwarded", TASK | {"requester": "Edge3MSP", "executor": "Edge4MSP", "candidates": []})
    )
    assert agent.counters["events"] == 3 and agent.counters["parse_errors"] == 2
    assert agent.status()["pending_handlers"] == 0


def test_expire_is_endorsed_by_requester_and_executor_or_requester_and_cloud() -> None:
    from orchestrator.ledger import expire_endorsers

    awarded = TASK | {"status": "AWARDED", "executor": "Edge2MSP"}
    assert expire_endorsers(awarded, "CloudMSP") == ["Edge1MSP", "Edge2MSP"]
    assert expire_endorsers(awarded, "Edge1MSP", without_executor=True) == ["Edge1MSP", "CloudMSP"]
    assert expire_endorsers(awarded, "CloudMSP", without_executor=True) == ["Edge1MSP", "CloudMSP"]
    # before an award the chaincode policy applies: the caller's own peer
    assert expire_endorsers(TASK, "Edge3MSP", without_executor=True) == ["Edge3MSP"]


def _settle_handlers(agent: EdgeAgent) -> None:
    deadline = time.monotonic() + 5
    while agent.status()["pending_handlers"] and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("expected", "escrow", "accepted"),
    [
        (None, 0, None),  # nobody told the agent: a transfer trap is left alone
        (("Edge1MSP", 40), 50, None),  # more escrow than agreed
        (("Edge4MSP", 40), 40, None),  # expected from another edge
        (("Edge1MSP", 40), 40, 40),
        (("Edge1MSP", 40), 0, 40),
    ],
)
def test_an_agent_accepts_only_the_transfers_it_was_told_to_expect(
    agent: EdgeAgent,
    monkeypatch: pytest.MonkeyPatch,
    expected: tuple[str, int] | None,
    escrow: int,
    accepted: int | None,
) -> None:
    calls: list[tuple[str, int]] = []

    def accept(task_id: str, *, max_escrow: int) -> None:
        calls.append((task_id, max_escrow))

    monkeypatch.setattr(agent.ledger, "accept_ownership", accept)
    monkeypatch.setattr(agent, "_adopt", lambda task: None)
    monkeypatch.setattr(agent.ledger, "read_task", lambda task_id: TASK)
    if expected is not None:
        agent.expect_transfer("t-17", *expected)
    proposal = TASK | {"status": "AWARDED", "executor": "Edge3MSP", "pendingOwner": "Edge2MSP", "escrow": escrow}
    agent.handle_event(_event("OwnershipProposed", proposal))
    _settle_handlers(agent)
    assert calls == ([] if accepted is None else [("t-17", accepted)])


def test_an_agent_refuses_to_expect_its_own_task_or_a_negative_escrow(agent: EdgeAgent) -> None:
    with pytest.raises(ConfigError, match="cannot take over its own task"):
        agent.expect_transfer("t-17", "Edge2MSP", 10)
    with pytest.raises(ConfigError, match="maxEscrow must be 0 or more"):
        agent.expect_transfer("t-17", "Edge1MSP", -1)
