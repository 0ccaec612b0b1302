"""Per-task timestamps, as each actor sees them: the stages of the workflow and every transaction.

Every actor (an edge agent, the cloud monitor) keeps a :class:`TraceBook`; the run driver collects
the books of all actors and merges them per task (``orchestrator.workflow.records``). Times are
Unix seconds from ``time.time()``: containers share the host's clock, so marks made in different
containers are comparable.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

# The stages of one task, in workflow order (first paper, Fig. 2; second paper, the auction).
STAGES: tuple[str, ...] = (
    "submitted",  # the requester starts its RequestTask transaction
    "requested",  # RequestTask committed
    "shortlisted",  # the Cloud's Shortlist committed
    "offers_in",  # the awarder has the offers it needs and decides
    "awarded",  # Award committed
    "payload_delivered",  # the payload is in the executor's collection (Award with payload, or SendPayload)
    "exec_started",  # the executor starts the real work
    "exec_finished",
    "result_committed",  # SubmitResult committed
    "settled",  # Settle committed
)
# Other things that happen to a task (recorded, not part of the per-stage chain).
EVENTS: tuple[str, ...] = (
    "offered",
    "declined",
    "payload_fetched",
    "expired",
    "reassigned",
    "disputed",
    "transfer_proposed",
    "ownership_accepted",
    "result_rejected",
    "failed",
)
# Stages where the first mark counts (a reassigned task keeps its original request time);
# for every other stage the last mark counts (the attempt that finished the task).
FIRST_MARK_WINS = frozenset({"submitted", "requested"})


@dataclass(frozen=True, slots=True)
class StageMark:
    task_id: str
    stage: str
    t: float  # Unix seconds
    actor: str  # MSP ID of who observed or did it
    detail: str = ""


@dataclass(frozen=True, slots=True)
class TxMark:
    """One transaction an actor submitted for a task, with the Gateway's phase timings."""

    task_id: str
    function: str
    actor: str
    t_start: float  # Unix seconds
    t_end: float
    endorse_s: float
    submit_s: float
    commit_s: float
    block: int  # -1 when it failed
    attempts: int
    ok: bool
    error: str = ""


class TraceBook:
    """A thread-safe list of stage marks and transaction marks."""

    def __init__(self, actor: str) -> None:
        self.actor = actor
        self._lock = threading.Lock()
        self._marks: list[StageMark] = []
        self._txs: list[TxMark] = []

    def mark(self, task_id: str, stage: str, *, t: float | None = None, detail: str = "") -> float:
        """Record ``stage`` of ``task_id`` now (or at ``t``); returns the time recorded."""
        when = time.time() if t is None else t
        with self._lock:
            self._marks.append(StageMark(task_id, stage, when, self.actor, detail))
        return when

    def tx(self, mark: TxMark) -> None:
        with self._lock:
            self._txs.append(mark)

    def marks(self, prefix: str = "") -> list[StageMark]:
        with self._lock:
            return [m for m in self._marks if m.task_id.startswith(prefix)]

    def txs(self, prefix: str = "") -> list[TxMark]:
        with self._lock:
            return [m for m in self._txs if m.task_id.startswith(prefix)]

    def export(self, prefix: str = "") -> dict[str, Any]:
        """JSON-ready: ``{"actor", "marks": [...], "txs": [...]}`` for tasks whose ID starts with ``prefix``."""
        return {
            "actor": self.actor,
            "marks": [asdict(m) for m in self.marks(prefix)],
            "txs": [asdict(t) for t in self.txs(prefix)],
        }


def marks_from_json(items: list[dict[str, Any]]) -> list[StageMark]:
    return [StageMark(**{k: item[k] for k in ("task_id", "stage", "t", "actor", "detail")}) for item in items]


def txs_from_json(items: list[dict[str, Any]]) -> list[TxMark]:
    fields = TxMark.__dataclass_fields__
    return [TxMark(**{k: item[k] for k in fields}) for item in items]
