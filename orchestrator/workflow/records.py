"""One record per task, merged from the traces of every actor (requester, executor, Cloud).

Each stage of :data:`~orchestrator.agent.trace.STAGES` gets one time: the first mark for
``submitted``/``requested`` (a reassigned task keeps its original request), the last for the others
(the attempt that finished it).

A stage that is a committed transaction is timed by the earliest evidence of the commit: the
submitter's commit-status answer, or any actor's sight of its event (the Cloud marks
``seen_<status>``), whichever came first; another peer's event can beat the submitter's own answer.
The payload was delivered at the latest when the executor read it, and an award that carried the
payload was committed at the latest then too. When the actor that should have marked a stage left
no mark (an agent killed mid-task), the evidence alone times it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.agent.trace import FIRST_MARK_WINS, STAGES, StageMark, TxMark

# Consecutive stages and the name of the interval between them.
INTERVALS: tuple[tuple[str, str, str], ...] = (
    ("request_tx", "submitted", "requested"),
    ("shortlist", "requested", "shortlisted"),
    ("offers", "shortlisted", "offers_in"),
    ("award_tx", "offers_in", "awarded"),
    ("payload", "awarded", "payload_delivered"),
    ("queue", "payload_delivered", "exec_started"),
    ("execution", "exec_started", "exec_finished"),
    ("result_tx", "exec_finished", "result_committed"),
    ("settle_tx", "result_committed", "settled"),
)
EVIDENCE = {
    "requested": "seen_requested",
    "shortlisted": "seen_shortlisted",
    "awarded": "seen_awarded",
    "result_committed": "seen_completed",
    "settled": "seen_settled",
}


@dataclass
class TaskRecord:
    task_id: str
    index: int
    requester: str  # the planned requester (org name)
    cycles: int
    input_bytes: int
    deadline_s: int
    delegate: bool
    planned_offset_s: float
    stages: dict[str, float] = field(default_factory=dict)
    marks: list[dict[str, Any]] = field(default_factory=list)
    txs: list[dict[str, Any]] = field(default_factory=list)
    final_status: str = "UNKNOWN"  # as the ledger has it at the end
    executor: str = ""
    price: int = 0
    rounds: int = 0
    reassigns: int = 0
    final_requester: str = ""

    def intervals(self) -> dict[str, float]:
        """Seconds between consecutive stages that both happened; plus ``total``."""
        out = {}
        for name, start, end in INTERVALS:
            if start in self.stages and end in self.stages:
                out[name] = self.stages[end] - self.stages[start]
        if "submitted" in self.stages and "settled" in self.stages:
            out["total"] = self.stages["settled"] - self.stages["submitted"]
        return out

    def tx_seconds(self) -> float:
        """Wall time of every successful transaction submitted for this task, by anyone."""
        return float(sum(t["t_end"] - t["t_start"] for t in self.txs if t["ok"]))

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"intervals": self.intervals()}


def merge(
    planned: Iterable[Mapping[str, Any]],
    marks: Sequence[StageMark],
    txs: Sequence[TxMark],
    ledger_tasks: Mapping[str, Mapping[str, Any]],
) -> list[TaskRecord]:
    """Build the records of the ``planned`` tasks (dicts with the TaskRecord's plan fields)."""
    by_task: dict[str, list[StageMark]] = {}
    for m in sorted(marks, key=lambda m: m.t):
        by_task.setdefault(m.task_id, []).append(m)
    tx_by_task: dict[str, list[TxMark]] = {}
    for t in sorted(txs, key=lambda t: t.t_start):
        tx_by_task.setdefault(t.task_id, []).append(t)
    records = []
    for plan in planned:
        record = TaskRecord(**plan)
        own = by_task.get(record.task_id, [])
        stages = record.stages
        first_seen: dict[str, float] = {}
        last_seen: dict[str, float] = {}
        for m in own:
            if m.stage in STAGES and not (m.stage in FIRST_MARK_WINS and m.stage in stages):
                stages[m.stage] = m.t
            first_seen.setdefault(m.stage, m.t)
            last_seen[m.stage] = m.t
        for stage, evidence in EVIDENCE.items():
            seen = (first_seen if stage in FIRST_MARK_WINS else last_seen).get(evidence)
            if seen is not None:
                stages[stage] = min(stages.get(stage, seen), seen)
        fetched = last_seen.get("payload_fetched")
        if fetched is not None:
            stages["payload_delivered"] = min(stages.get("payload_delivered", fetched), fetched)
            if "awarded" in stages:
                stages["awarded"] = min(stages["awarded"], stages["payload_delivered"])
        record.marks = [asdict(m) for m in own]
        record.txs = [asdict(t) for t in tx_by_task.get(record.task_id, [])]
        task = ledger_tasks.get(record.task_id)
        if task:
            record.final_status = str(task.get("status", "UNKNOWN"))
            record.executor = str(task.get("executor", ""))
            record.price = int(task.get("price", 0))
            record.rounds = int(task.get("round", 0))
            record.final_requester = str(task.get("requester", ""))
        else:
            record.final_status = "NOT_REQUESTED"
        record.reassigns = sum(1 for t in record.txs if t["function"] == "Reassign" and t["ok"])
        records.append(record)
    return records


def write_records(records: Sequence[TaskRecord], folder: Path) -> None:
    """``tasks.jsonl`` (everything), ``stages.csv`` (one row per task: stage times and intervals),
    ``transactions.csv`` (one row per transaction)."""
    with (folder / "tasks.jsonl").open("w") as f:
        for r in records:
            f.write(json.dumps(r.to_json(), separators=(",", ":")) + "\n")
    interval_names = [name for name, _, _ in INTERVALS] + ["total"]
    header = ["task_id", "requester", "executor", "final_status", "delegate", "cycles", "input_bytes", "price"]
    header += ["rounds", "reassigns", *STAGES, *(f"{n}_s" for n in interval_names)]
    lines = [",".join(header)]
    for r in records:
        iv = r.intervals()
        row: list[object] = [r.task_id, r.requester, r.executor, r.final_status, int(r.delegate), r.cycles]
        row += [r.input_bytes, r.price, r.rounds, r.reassigns]
        row += [f"{r.stages[s]:.6f}" if s in r.stages else "" for s in STAGES]
        row += [f"{iv[n]:.6f}" if n in iv else "" for n in interval_names]
        lines.append(",".join(str(x) for x in row))
    (folder / "stages.csv").write_text("\n".join(lines) + "\n")
    tx_header = ["task_id", "function", "actor", "t_start", "t_end", "endorse_s", "submit_s", "commit_s"]
    tx_header += ["block", "attempts", "ok", "error"]
    tx_lines = [",".join(tx_header)]
    for r in records:
        for t in r.txs:
            values = [t[k] for k in tx_header[:-1]] + [json.dumps(t["error"])]
            tx_lines.append(",".join(str(v) for v in values))
    (folder / "transactions.csv").write_text("\n".join(tx_lines) + "\n")


def read_records(folder: Path) -> list[TaskRecord]:
    records = []
    for line in (folder / "tasks.jsonl").read_text().splitlines():
        data = json.loads(line)
        data.pop("intervals", None)
        records.append(TaskRecord(**data))
    return records
