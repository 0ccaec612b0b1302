"""What a run's records say: outcomes, per-stage p50/p95, and where the time went.

Per-stage figures are over the tasks that settled on their first attempt (a reassigned task's
intervals contain the wait for its deadline). The split of a task's time from submission to
settlement is

* **execution**: the executor hashing (``exec_started`` to ``exec_finished``);
* **queueing**: the payload read and the wait behind the executor's other tasks;
* **ledger**: everything else, i.e. the transactions (each a block away from the next), the
  Cloud's shortlist and the offer round: the cost of doing the workflow on a ledger.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrator.workflow.records import INTERVALS, TaskRecord

INTERVAL_NAMES: tuple[str, ...] = (*(name for name, _, _ in INTERVALS), "total")


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), ``q`` in [0, 100]; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "mean": sum(values) / len(values) if values else math.nan,
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": max(values) if values else math.nan,
    }


def summarize(records: Sequence[TaskRecord], *, duration_s: float | None = None) -> dict[str, Any]:
    """The summary of one run (JSON-ready; NaN where nothing was measured)."""
    outcomes: dict[str, int] = {}
    for r in records:
        outcomes[r.final_status] = outcomes.get(r.final_status, 0) + 1
    clean = [r for r in records if r.final_status == "SETTLED" and r.reassigns == 0]
    stages = {name: _stats([r.intervals()[name] for r in clean if name in r.intervals()]) for name in INTERVAL_NAMES}
    total = exec_s = queue_s = tx_s = 0.0
    for r in clean:
        iv = r.intervals()
        if "total" not in iv:
            continue
        total += iv["total"]
        exec_s += iv.get("execution", 0.0)
        queue_s += iv.get("queue", 0.0)
        tx_s += r.tx_seconds()
    shares = {
        "execution": exec_s / total if total else math.nan,
        "queueing": queue_s / total if total else math.nan,
        "ledger": (total - exec_s - queue_s) / total if total else math.nan,
        "transactions_sum": tx_s / total if total else math.nan,  # all txs of a task, overlapping ones too
    }
    txs: dict[str, list[float]] = {}
    failed: dict[str, int] = {}
    retried = 0
    for r in records:
        for t in r.txs:
            if t["ok"]:
                txs.setdefault(t["function"], []).append(t["t_end"] - t["t_start"])
                retried += t["attempts"] > 1
            else:
                failed[t["function"]] = failed.get(t["function"], 0) + 1
    settled = [r for r in records if r.final_status == "SETTLED" and "settled" in r.stages]
    by_executor: dict[str, int] = {}
    for r in settled:
        by_executor[r.executor] = by_executor.get(r.executor, 0) + 1
    window = duration_s
    if window is None and settled:
        start = min(r.stages.get("submitted", math.inf) for r in records)
        window = max(r.stages["settled"] for r in settled) - start
    return {
        "tasks": len(records),
        "outcomes": dict(sorted(outcomes.items())),
        "settled_first_attempt": len(clean),
        "reassigned": sum(1 for r in records if r.reassigns),
        "throughput_settled_per_s": len(settled) / window if window else math.nan,
        "stages_s": stages,
        "time_shares": shares,
        "transactions_s": {f: _stats(v) for f, v in sorted(txs.items())},
        "transactions_failed": dict(sorted(failed.items())),
        "transactions_retried": retried,
        "settled_by_executor": dict(sorted(by_executor.items())),
        "credits_paid": sum(r.price for r in settled),
    }


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 1000:.0f}"


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 100:.1f} %"


def stage_table(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """A markdown table: one row per stage, p50/p95 in ms for each run (column groups)."""
    labels = list(summaries)
    header = "| stage | " + " | ".join(f"{lbl} p50 | {lbl} p95" for lbl in labels) + " |"
    rule = "|---|" + "---:|---:|" * len(labels)
    lines = [header, rule]
    for name in INTERVAL_NAMES:
        cells = []
        for lbl in labels:
            st = summaries[lbl]["stages_s"][name]
            cells += [_ms(st["p50"]), _ms(st["p95"])]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def overview_table(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """A markdown table: outcomes, throughput and the time split of each run."""
    lines = [
        "| run | tasks | settled | expired | other | reassigned | settled/s | execution | queueing | ledger |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, s in summaries.items():
        outcomes = s["outcomes"]
        settled, expired = outcomes.get("SETTLED", 0), outcomes.get("EXPIRED", 0)
        other = s["tasks"] - settled - expired
        shares = s["time_shares"]
        tput = s["throughput_settled_per_s"]
        lines.append(
            f"| {label} | {s['tasks']} | {settled} | {expired} | {other} | {s['reassigned']} | "
            f"{'-' if math.isnan(tput) else f'{tput:.2f}'} | {_pct(shares['execution'])} | "
            f"{_pct(shares['queueing'])} | {_pct(shares['ledger'])} |"
        )
    return "\n".join(lines)


def markdown(summary: Mapping[str, Any], *, title: str) -> str:
    parts = [
        f"# {title}",
        "",
        overview_table({"this run": summary}),
        "",
        "Per stage, tasks settled at their first attempt (ms):",
        "",
        stage_table({"run": summary}),
        "",
        "Transactions (ms, submit to commit, every actor):",
        "",
        "| function | n | p50 | p95 |",
        "|---|---:|---:|---:|",
    ]
    for function, st in summary["transactions_s"].items():
        parts.append(f"| {function} | {st['n']} | {_ms(st['p50'])} | {_ms(st['p95'])} |")
    if summary["transactions_failed"]:
        failed = ", ".join(f"{k} {v}" for k, v in summary["transactions_failed"].items())
        parts += ["", f"Refused or failed transactions: {failed}."]
    return "\n".join(parts) + "\n"
