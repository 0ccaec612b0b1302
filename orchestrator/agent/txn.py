"""Submitting a task transaction from a live actor: record its phases, retry what may succeed later.

Two submissions that touch the same key in one block (two Awards by one requester both debit its
balance; two Settles paying one executor) make the later one ``MVCC_READ_CONFLICT`` at commit:
nothing was written, so it is simply submitted again after a short random pause. A transaction the
contract refuses is not retried (it is recorded and raised), except briefly for transactions the
other party's peer endorses too (``CROSS_PEER``), whose refusal may only mean that peer has not yet
committed the block the caller reacted to.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

import grpc

from orchestrator.agent.trace import TraceBook, TxMark
from orchestrator.gateway import CommitError, EndorseError, GatewayError, SubmitResult

log = logging.getLogger(__name__)

RETRY_COMMIT_CODES = frozenset({"MVCC_READ_CONFLICT", "PHANTOM_READ_CONFLICT"})
RETRY_GRPC_CODES = frozenset({grpc.StatusCode.UNAVAILABLE})
# Endorsed by the other party's peer too. An actor reacts to a block as soon as its own peer has
# committed it; the other party's peer may commit that block a moment later and, until then, its
# chaincode refuses the transaction (e.g. "edge X has made no offer"), or the two peers, reading
# different versions of a key, return different results ("ProposalResponsePayloads do not match").
# Such a failure is retried for a few seconds before it counts.
CROSS_PEER = frozenset(
    {"Award", "SendPayload", "SubmitResult", "Settle", "Dispute", "TransferOwnership", "AcceptOwnership"}
)
LAG_RETRY_S = 5.0
LAG_SYMPTOMS = ("chaincode response 500", "ProposalResponsePayloads do not match")


def retryable(error: Exception, *, function: str = "", elapsed_s: float = 0.0) -> bool:
    """Whether submitting the same transaction again may succeed."""
    if isinstance(error, CommitError):
        return error.code_name in RETRY_COMMIT_CODES
    if isinstance(error, EndorseError) and function in CROSS_PEER and elapsed_s < LAG_RETRY_S:
        return any(symptom in str(error) for symptom in LAG_SYMPTOMS)
    if isinstance(error, GatewayError):
        return error.code in RETRY_GRPC_CODES
    return False


def submit(
    book: TraceBook,
    task_id: str,
    function: str,
    call: Callable[[], SubmitResult],
    *,
    attempts: int = 12,
    pause_s: float = 0.2,
) -> SubmitResult:
    """Run ``call`` (one ledger submit) up to ``attempts`` times; record one :class:`TxMark`."""
    start = time.time()
    for attempt in range(1, attempts + 1):
        try:
            result = call()
        except (CommitError, GatewayError) as exc:
            if attempt < attempts and retryable(exc, function=function, elapsed_s=time.time() - start):
                log.debug("%s of %s: %s; retrying", function, task_id, exc)
                time.sleep(min(pause_s * attempt, 1.5) * (0.5 + random.random()))
                continue
            book.tx(
                TxMark(task_id, function, book.actor, start, time.time(), 0.0, 0.0, 0.0, -1, attempt, False, str(exc))
            )
            raise
        t = result.timings
        book.tx(
            TxMark(
                task_id,
                function,
                book.actor,
                start,
                time.time(),
                t.endorse_s,
                t.submit_s,
                t.commit_s,
                result.block_number,
                attempt,
                True,
            )
        )
        return result
    raise AssertionError("unreachable")  # pragma: no cover
