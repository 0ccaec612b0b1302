"""The seeded workload: the same seed replays the same tasks under any policy; bad input is named."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from orchestrator.errors import ConfigError
from orchestrator.workflow.workload import WorkloadConfig, generate, parse_workload

EDGES = ["Edge1", "Edge2", "Edge3", "Edge4"]


def _strip(plan: list[object], run_id: str) -> list[tuple[object, ...]]:
    rows = []
    for p in plan:
        d = dataclasses.asdict(p)  # type: ignore[call-overload]
        order = d.pop("order")
        rows.append(
            (
                d["index"],
                d["offset_s"],
                d["requester"],
                order["task_id"].removeprefix(run_id),
                *(order[k] for k in ("cycles", "input_bytes", "deadline_s", "max_price", "delegate", "seed")),
            )
        )
    return rows


def test_same_seed_same_tasks_whatever_the_policy_and_run() -> None:
    config = WorkloadConfig(count=50, rate_hz=5, seed=7)
    a = generate(config, EDGES, run_id="auction-1", award_rule="auction")
    b = generate(config, EDGES, run_id="random-2", award_rule="rank")
    assert _strip(a, "auction-1") == _strip(b, "random-2")
    assert {p.order.award_rule for p in a} == {"auction"} and {p.order.award_rule for p in b} == {"rank"}
    other = generate(config.model_copy(update={"seed": 8}), EDGES, run_id="auction-1")
    assert _strip(other, "auction-1") != _strip(a, "auction-1")


def test_draws_stay_in_range_and_arrivals_match_the_rate() -> None:
    config = WorkloadConfig(count=2000, rate_hz=5, seed=1, delegate_share=0.25)
    plan = generate(config, EDGES, run_id="r")
    assert plan[0].offset_s == 0.0
    assert all(a.offset_s <= b.offset_s for a, b in itertools.pairwise(plan))
    assert plan[-1].offset_s / (len(plan) - 1) == pytest.approx(0.2, rel=0.1)
    assert all(config.cycles_min <= p.order.cycles <= config.cycles_max for p in plan)
    assert all(config.deadline_min_s <= p.order.deadline_s <= config.deadline_max_s for p in plan)
    assert sum(p.order.delegate for p in plan) / len(plan) == pytest.approx(0.25, abs=0.04)
    assert {p.requester for p in plan} == set(EDGES)
    assert len({p.order.task_id for p in plan}) == len(plan)
    uniform = generate(config.model_copy(update={"arrivals": "uniform"}), EDGES, run_id="r")
    assert uniform[3].offset_s == pytest.approx(0.6)


def test_max_price_covers_the_price_per_gigacycle() -> None:
    plan = generate(WorkloadConfig(count=5, max_price_per_gigacycle=100), EDGES, run_id="r")
    assert all(p.order.max_price >= 100 * p.order.cycles / 1e9 for p in plan)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"count": -1}, "count: Input should be greater than or equal to 1"),
        ({"cycles_min": -5}, "cycles_min"),
        ({"cycles_min": 10, "cycles_max": 5}, "cycles_min 10 is above cycles_max 5"),
        ({"input_max": 2_000_000}, "input_max"),
        ({"rate_hz": 0}, "rate_hz"),
        ({"arrivals": "bursty"}, "arrivals"),
    ],
)
def test_bad_workloads_are_one_clear_line(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        parse_workload(changes)
    assert "\n" not in str(err.value)


def test_unknown_requesters_and_lone_edges_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown requester"):
        generate(WorkloadConfig(requesters=("Edge9",)), EDGES, run_id="r")
    with pytest.raises(ConfigError, match="at least two edges"):
        generate(WorkloadConfig(), ["Edge1"], run_id="r")
