"""Chaincode events of the ``mectask`` contract as typed records.

Every task event carries the task JSON as written by the transaction, plus ``actor`` (the caller's
MSP ID) and, for ``TaskOffered``, ``offer`` (see chaincode/README.md, Events). A payload that is not
such a task raises :class:`EventParseError`; the caller logs it and goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from orchestrator.gateway import ChaincodeEvent

TASK_EVENTS = frozenset(
    {
        "TaskRequested",
        "TaskShortlisted",
        "TaskOffered",
        "TaskAwarded",
        "PayloadSent",
        "TaskCompleted",
        "TaskSettled",
        "TaskDisputed",
        "TaskExpired",
        "TaskReassigned",
        "OwnershipProposed",
        "OwnershipTransferred",
    }
)
FINAL_STATUSES = frozenset({"SETTLED", "DISPUTED"})
OPEN_STATUSES = frozenset({"REQUESTED", "SHORTLISTED", "AWARDED"})


class EventParseError(ValueError):
    """A chaincode event whose payload is not the task JSON it should be."""


@dataclass(frozen=True, slots=True)
class Offer:
    msp_id: str
    round: int
    willing: bool
    price: int
    estimated_seconds: int


@dataclass(frozen=True, slots=True)
class TaskEvent:
    """One task event: the task's public fields after the transaction, who did it, and where."""

    name: str
    block: int
    tx_id: str
    task_id: str
    status: str
    requester: str
    executor: str
    actor: str
    candidates: tuple[str, ...]
    round: int
    cycles: int
    input_bytes: int
    deadline: int
    max_price: int
    payload_hash: str
    delegate_award: bool
    payload_delivered: bool
    pending_owner: str
    price: int
    result_hash: str
    offer: Offer | None = None
    escrow: int = 0


def _str(data: dict[str, Any], key: str, *, required: bool = False) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise EventParseError(f"field {key!r} is {type(value).__name__}, not a string")
    if required and not value:
        raise EventParseError(f"field {key!r} is missing")
    return value


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventParseError(f"field {key!r} is {value!r}, not an integer")
    return value


def _bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise EventParseError(f"field {key!r} is {value!r}, not true or false")
    return value


def parse_event(event: ChaincodeEvent) -> TaskEvent | None:
    """The task event in ``event``; ``None`` for events that are not about a task (``EdgeRegistered``)."""
    if event.event_name not in TASK_EVENTS:
        return None
    try:
        data = json.loads(event.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventParseError(f"{event.event_name} in tx {event.tx_id}: payload is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise EventParseError(f"{event.event_name} in tx {event.tx_id}: payload is not a JSON object")
    try:
        candidates = data.get("candidates") or []
        if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
            raise EventParseError("field 'candidates' is not a list of MSP IDs")
        offer = None
        if event.event_name == "TaskOffered":
            raw = data.get("offer")
            if not isinstance(raw, dict):
                raise EventParseError("TaskOffered without an 'offer' object")
            offer = Offer(
                msp_id=_str(raw, "mspId", required=True),
                round=_int(raw, "round"),
                willing=_bool(raw, "willing"),
                price=_int(raw, "price"),
                estimated_seconds=_int(raw, "estimatedSeconds"),
            )
        return TaskEvent(
            name=event.event_name,
            block=event.block_number,
            tx_id=event.tx_id,
            task_id=_str(data, "taskId", required=True),
            status=_str(data, "status", required=True),
            requester=_str(data, "requester", required=True),
            executor=_str(data, "executor"),
            actor=_str(data, "actor"),
            candidates=tuple(candidates),
            round=_int(data, "round"),
            cycles=_int(data, "cpuCycles"),
            input_bytes=_int(data, "inputBytes"),
            deadline=_int(data, "deadline"),
            max_price=_int(data, "maxPrice"),
            payload_hash=_str(data, "payloadHash"),
            delegate_award=_bool(data, "delegateAward"),
            payload_delivered=_bool(data, "payloadDelivered"),
            pending_owner=_str(data, "pendingOwner"),
            price=_int(data, "price"),
            result_hash=_str(data, "resultHash"),
            escrow=_int(data, "escrow"),
            offer=offer,
        )
    except EventParseError as exc:
        raise EventParseError(f"{event.event_name} in tx {event.tx_id}: {exc}") from None
