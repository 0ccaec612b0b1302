"""One record per transaction: monotonic stamps of each phase, the outcome and its validation code.

A failure is a record too (its status says which phase failed, ``error`` says why), never an
exception that stops the run. Stamps are ``time.monotonic()`` seconds (one clock for every worker
process on Linux); a phase that did not happen is NaN.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields
from enum import StrEnum

__all__ = ["NAN", "RECORD_FIELDS", "TxRecord", "TxStatus"]

NAN = math.nan


class TxStatus(StrEnum):
    """How a transaction ended."""

    VALID = "valid"  # committed and VALID: the only outcome throughput counts for writes
    INVALID = "invalid"  # committed in a block but marked invalid (e.g. MVCC_READ_CONFLICT)
    OK = "ok"  # a read (evaluate) answered
    ENDORSE_FAILED = "endorse_failed"
    SUBMIT_FAILED = "submit_failed"  # refused on the way to the orderer: never ordered
    SUBMIT_UNKNOWN = "submit_unknown"  # the submit call broke off (e.g. UNAVAILABLE): it may be ordered
    COMMIT_STATUS_FAILED = "commit_status_failed"  # e.g. timed out waiting; it may still have committed
    EVALUATE_FAILED = "evaluate_failed"
    ERROR = "error"  # anything else (a client-side bug shows here, not as a crash)

    @property
    def succeeded(self) -> bool:
        return self in (TxStatus.VALID, TxStatus.OK)


@dataclass(frozen=True, slots=True)
class TxRecord:
    """One transaction of one round, as the load generator saw it."""

    round: str  # the round's label
    worker: int
    seq: int  # unique per worker for the whole run
    org: str  # MSP id of the identity that sent it
    kind: str  # "submit" | "evaluate"
    function: str
    tx_id: str
    scheduled: float  # when the rate controller wanted it sent (NaN for a closed loop)
    start: float  # proposal built (the "submit time" of the paper's latency definitions)
    endorsed: float  # endorsement received (writes)
    submitted: float  # accepted by the orderer (writes)
    end: float  # commit status received (writes), answer received (reads), or the failure observed
    status: str  # a TxStatus value
    validation_code: int  # peer.TxValidationCode, -1 when the transaction never reached a block
    validation: str  # its name, e.g. VALID, MVCC_READ_CONFLICT; "" when none
    block: int  # block number, -1 when none
    error: str  # one line, "" on success

    @property
    def latency(self) -> float:
        return self.end - self.start

    def as_row(self) -> tuple[object, ...]:
        return astuple(self)


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TxRecord))
