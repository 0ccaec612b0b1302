"""Records merged from every actor's trace, the per-stage summary, and the credit check."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from orchestrator.agent.trace import STAGES, StageMark, TraceBook, TxMark, marks_from_json, txs_from_json
from orchestrator.workflow.records import merge, read_records, write_records
from orchestrator.workflow.runner import credit_check
from orchestrator.workflow.summary import markdown, percentile, stage_table, summarize

PLAN = {
    "requester": "Edge1",
    "cycles": 10**9,
    "input_bytes": 1024,
    "deadline_s": 30,
    "delegate": False,
    "planned_offset_s": 0.0,
}


def _plan(task_id: str, index: int = 0) -> dict[str, object]:
    return {"task_id": task_id, "index": index, **PLAN}


def _marks(task_id: str, start: float, *, execution: float = 1.0, actor: str = "Edge1MSP") -> list[StageMark]:
    """Every stage 0.25 s after the previous, except an execution of ``execution`` seconds."""
    marks, t = [], start
    for stage in STAGES:
        marks.append(StageMark(task_id, stage, t, actor))
        t += execution if stage == "exec_started" else 0.25
    return marks


def _tx(task_id: str, function: str, t: float, seconds: float, *, ok: bool = True, attempts: int = 1) -> TxMark:
    return TxMark(
        task_id,
        function,
        "Edge1MSP",
        t,
        t + seconds,
        0.01,
        0.01,
        seconds - 0.02,
        5 if ok else -1,
        attempts,
        ok,
        "" if ok else "refused",
    )


def test_percentile_matches_linear_interpolation() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0], 95) == pytest.approx(10.5)
    assert math.isnan(percentile([], 50))


def test_merge_keeps_the_first_request_and_the_last_attempt() -> None:
    marks = _marks("t1", 100.0)
    marks += [StageMark("t1", "requested", 500.0, "Edge1MSP"), StageMark("t1", "awarded", 600.0, "Edge1MSP")]
    (record,) = merge([_plan("t1")], marks, [], {"t1": {"status": "SETTLED", "executor": "Edge2MSP", "price": 7}})
    assert record.stages["requested"] == 100.25  # first wins
    assert record.stages["awarded"] == 600.0  # last wins
    assert (record.final_status, record.executor, record.price) == ("SETTLED", "Edge2MSP", 7)


def test_the_clouds_observation_stands_in_for_a_dead_actors_mark() -> None:
    marks = [m for m in _marks("t1", 0.0) if m.stage != "settled"]
    marks.append(StageMark("t1", "seen_settled", 42.0, "CloudMSP"))
    (record,) = merge([_plan("t1")], marks, [], {})
    assert record.stages["settled"] == 42.0 and record.final_status == "NOT_REQUESTED"


def test_a_commit_is_timed_by_its_earliest_evidence() -> None:
    marks = [m for m in _marks("t1", 0.0) if m.stage not in ("awarded", "payload_delivered")]
    marks += [
        StageMark("t1", "awarded", 2.0, "Edge1MSP"),  # the awarder's commit-status answer came late
        StageMark("t1", "payload_delivered", 2.0, "Edge1MSP", "with the award"),
        StageMark("t1", "seen_awarded", 1.6, "CloudMSP"),
        StageMark("t1", "payload_fetched", 1.4, "Edge2MSP"),  # the executor already had it
    ]
    (record,) = merge([_plan("t1")], marks, [], {})
    assert record.stages["payload_delivered"] == 1.4 and record.stages["awarded"] == 1.4
    assert record.stages["exec_started"] >= record.stages["payload_delivered"] >= record.stages["awarded"]


def test_summary_splits_time_into_execution_queueing_and_ledger() -> None:
    marks = _marks("t1", 0.0, execution=1.0) + _marks("t2", 10.0, execution=3.0)
    txs = [
        _tx("t1", "Award", 0.5, 0.3),
        _tx("t2", "Award", 10.5, 0.3, attempts=2),
        _tx("t2", "Settle", 12, 0.1, ok=False),
    ]
    ledger = {t: {"status": "SETTLED", "executor": "Edge2MSP", "price": 5} for t in ("t1", "t2")}
    records = merge([_plan("t1"), _plan("t2", 1)], marks, txs, ledger)
    summary = summarize(records)
    # each task: 9 gaps, 8 of 0.25 s plus the execution
    assert summary["stages_s"]["execution"]["p50"] == 2.0
    assert summary["stages_s"]["total"]["n"] == 2
    total = (2.0 + 1.0) + (2.0 + 3.0)
    assert summary["time_shares"]["execution"] == pytest.approx(4.0 / total)
    assert summary["time_shares"]["queueing"] == pytest.approx(0.5 / total)
    assert summary["time_shares"]["ledger"] == pytest.approx(1 - 4.5 / total)
    assert summary["outcomes"] == {"SETTLED": 2}
    assert summary["transactions_failed"] == {"Settle": 1} and summary["transactions_retried"] == 1
    assert summary["settled_by_executor"] == {"Edge2MSP": 2} and summary["credits_paid"] == 10
    text = markdown(summary, title="x")
    assert "| execution | 2000 |" in text and "Refused or failed transactions: Settle 1." in text


def test_reassigned_and_expired_tasks_stay_out_of_the_stage_figures() -> None:
    marks = _marks("t1", 0.0)
    txs = [_tx("t1", "Reassign", 1.0, 0.2)]
    records = merge(
        [_plan("t1"), _plan("t2", 1)], marks, txs, {"t1": {"status": "SETTLED"}, "t2": {"status": "EXPIRED"}}
    )
    summary = summarize(records)
    assert summary["reassigned"] == 1 and summary["settled_first_attempt"] == 0
    assert summary["stages_s"]["total"]["n"] == 0 and math.isnan(summary["stages_s"]["total"]["p50"])
    assert "| total | - | - |" in stage_table({"run": summary})


def test_records_round_trip_through_the_results_folder(tmp_path: Path) -> None:
    records = merge([_plan("t1")], _marks("t1", 5.0), [_tx("t1", "Award", 5.5, 0.2)], {"t1": {"status": "SETTLED"}})
    write_records(records, tmp_path)
    assert read_records(tmp_path) == records
    header, row = (tmp_path / "stages.csv").read_text().splitlines()
    assert header.startswith("task_id,requester,executor,final_status") and row.startswith("t1,Edge1,,SETTLED")
    assert len((tmp_path / "transactions.csv").read_text().splitlines()) == 2


def test_trace_books_export_what_merge_reads() -> None:
    book = TraceBook("Edge2MSP")
    book.mark("run-1-00001", "exec_started", t=3.0, detail="9 rounds")
    book.mark("other-00001", "exec_started", t=4.0)
    book.tx(_tx("run-1-00001", "SubmitResult", 4.0, 0.5))
    exported = book.export("run-1")
    assert marks_from_json(exported["marks"]) == [StageMark("run-1-00001", "exec_started", 3.0, "Edge2MSP", "9 rounds")]
    assert txs_from_json(exported["txs"])[0].function == "SubmitResult"


def test_credit_check_explains_balance_changes_by_settled_and_disputed_tasks() -> None:
    before = {m: {"balance": 1000} for m in ("E1", "E2", "E3")}
    tasks = {
        "a": {"status": "SETTLED", "requester": "E1", "executor": "E2", "price": 40},
        "b": {"status": "DISPUTED", "requester": "E2", "executor": "E3", "price": 11},
        "c": {"status": "EXPIRED", "requester": "E3", "executor": "E1", "price": 99},
    }
    after = {"E1": {"balance": 960}, "E2": {"balance": 1035}, "E3": {"balance": 1005}}
    check = credit_check(before, after, tasks)
    assert check["consistent"] and check["expected_delta"] == {"E1": -40, "E2": 35, "E3": 5}
    paid_twice = {**after, "E2": {"balance": 1075}, "E1": {"balance": 920}}
    assert not credit_check(before, paid_twice, tasks)["consistent"]
