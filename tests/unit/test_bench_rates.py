"""Rate controllers: schedules, not gaps; the workers' slots add up to the one global schedule."""

from __future__ import annotations

import itertools
import math

import pytest

from orchestrator.bench.rates import (
    RATE_CONTROLLERS,
    ClosedController,
    FixedLoad,
    FixedRate,
    LinearRate,
    MaximumRate,
    OpenController,
    make_controller,
    worker_share,
)
from orchestrator.bench.rates import (
    parse_rate_options as parse,
)


def _offsets(controller: OpenController) -> list[float]:
    out = []
    while (offset := controller.next_offset()) is not None:
        out.append(offset)
        assert len(out) < 1_000_000
    return out


def _all_workers(
    options: dict[str, object], *, workers: int, tx_count: int | None = None, duration_s: float | None = None
) -> list[list[float]]:
    opts = parse(options)
    per_worker = []
    for w in range(workers):
        ctrl = make_controller(opts, worker=w, workers=workers, tx_count=tx_count, duration_s=duration_s)
        assert isinstance(ctrl, OpenController)
        per_worker.append(_offsets(ctrl))
    return per_worker


def test_the_registry_holds_the_four_caliper_controllers_and_keeps_open_and_closed_apart() -> None:
    assert set(RATE_CONTROLLERS) == {"fixed-rate", "linear-rate", "fixed-load", "maximum-rate"}
    assert issubclass(FixedRate, OpenController) and issubclass(LinearRate, OpenController)
    assert issubclass(MaximumRate, OpenController)
    assert issubclass(FixedLoad, ClosedController)
    assert FixedLoad.closed and not FixedRate.closed


def test_fixed_rate_is_a_schedule_of_i_over_tps_dealt_round_robin_to_workers() -> None:
    per_worker = _all_workers({"type": "fixed-rate", "tps": 10}, workers=3, tx_count=10)
    assert [len(w) for w in per_worker] == [4, 3, 3]
    assert per_worker[0] == pytest.approx([0.0, 0.3, 0.6, 0.9])
    assert per_worker[1] == pytest.approx([0.1, 0.4, 0.7])
    merged = sorted(t for w in per_worker for t in w)
    assert merged == pytest.approx([i / 10 for i in range(10)])


def test_a_duration_round_sends_until_the_duration_and_no_further() -> None:
    per_worker = _all_workers({"type": "fixed-rate", "tps": 20}, workers=2, duration_s=1.5)
    merged = sorted(t for w in per_worker for t in w)
    assert len(merged) == 30
    assert max(merged) < 1.5


def test_linear_rate_over_a_count_changes_the_gap_linearly_with_the_index() -> None:
    n = 200
    (offsets,) = _all_workers({"type": "linear-rate", "start_tps": 10, "end_tps": 50}, workers=1, tx_count=n)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    # the gap after transaction i is about 1 / r(i) with r(i) = 10 + 40 i / n
    for i in (0, 50, 100, 150, 198):
        assert gaps[i] == pytest.approx(1 / (10 + 40 * (i + 0.5) / n), rel=0.02)
    # total time = n / (e - s) * ln(e / s)
    assert offsets[-1] == pytest.approx(n / 40 * math.log(50 / 10), rel=0.02)


def test_linear_rate_over_a_duration_sends_the_area_under_the_ramp() -> None:
    per_worker = _all_workers({"type": "linear-rate", "start_tps": 10, "end_tps": 30}, workers=2, duration_s=10)
    merged = sorted(t for w in per_worker for t in w)
    assert len(merged) == pytest.approx((10 + 30) / 2 * 10, abs=1)
    first_second = sum(1 for t in merged if t < 1)
    last_second = sum(1 for t in merged if t >= 9)
    assert first_second == pytest.approx(11, abs=1)  # ≈ ∫0^1 (10 + 2t) dt
    assert last_second == pytest.approx(29, abs=1)


def test_a_decreasing_linear_rate_also_works() -> None:
    (offsets,) = _all_workers({"type": "linear-rate", "start_tps": 40, "end_tps": 10}, workers=1, duration_s=4)
    assert len(offsets) == pytest.approx(100, abs=1)
    assert offsets == sorted(offsets)


def test_equal_start_and_end_is_a_fixed_rate() -> None:
    (a,) = _all_workers({"type": "linear-rate", "start_tps": 25, "end_tps": 25}, workers=1, tx_count=50)
    (b,) = _all_workers({"type": "fixed-rate", "tps": 25}, workers=1, tx_count=50)
    assert a == pytest.approx(b)


def test_fixed_load_splits_the_outstanding_transactions_over_the_workers() -> None:
    opts = parse({"type": "fixed-load", "transaction_load": 5})
    loads = []
    for w in range(2):
        ctrl = make_controller(opts, worker=w, workers=2, tx_count=100, duration_s=None)
        assert isinstance(ctrl, ClosedController)
        loads.append(ctrl.concurrency())
        assert ctrl.nominal_tps() is None
    assert loads == [3, 2]


def test_maximum_rate_climbs_while_transactions_keep_up_and_backs_off_when_they_do_not() -> None:
    opts = parse({"type": "maximum-rate", "tps": 10, "step_tps": 10, "sample_interval_s": 1})
    ctrl = make_controller(opts, worker=0, workers=1, tx_count=None, duration_s=10)
    assert isinstance(ctrl, MaximumRate)
    sent_per_window: dict[int, int] = {}
    while (offset := ctrl.next_offset()) is not None:
        window = int(offset)
        sent_per_window[window] = sent_per_window.get(window, 0) + 1
        # the network keeps up for three seconds, then commits only 15 tx/s
        if window < 3 or sent_per_window[window] <= 15:
            ctrl.observe(offset, ok=True)
    assert ctrl.rates[:4] == [10, 20, 30, 40]
    assert ctrl.rates[4] < ctrl.rates[3]  # it backs off after the first window that did not keep up
    assert sent_per_window[0] == 10 and sent_per_window[1] == 20


def test_worker_share_deals_slots_round_robin() -> None:
    assert [worker_share(10, w, 3) for w in range(3)] == [4, 3, 3]
    assert sum(worker_share(7, w, 4) for w in range(4)) == 7
    assert worker_share(2, 3, 4) == 0


def test_a_controller_refuses_both_or_neither_length() -> None:
    opts = parse({"type": "fixed-rate", "tps": 1})
    with pytest.raises(ValueError, match="either a transaction count or a duration"):
        make_controller(opts, worker=0, workers=1, tx_count=None, duration_s=None)
    with pytest.raises(ValueError, match="either a transaction count or a duration"):
        make_controller(opts, worker=0, workers=1, tx_count=3, duration_s=3)
    with pytest.raises(ValueError, match="worker 2"):
        make_controller(opts, worker=2, workers=2, tx_count=3, duration_s=None)
