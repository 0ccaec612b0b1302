"""Rate controllers, registered by name so a benchmark YAML picks one (after Caliper's rate-control registry).

Two kinds, kept distinct:

* **open** controllers (fixed-rate, linear-rate, maximum-rate) own a *schedule*: the i-th transaction
  of the round is due ``offset(i)`` seconds after the round starts, whether or not earlier ones have
  finished. The sender sleeps toward that schedule (never "a fixed gap after each send"), so it
  does not drift, and a late transaction is sent at once: the achieved send rate matches the target
  until the client or the network cannot keep up. Worker ``w`` of ``W`` takes slots ``w, w+W, …``
  of the one global schedule, so several processes together still produce it exactly.
* **closed** controllers (fixed-load) keep a fixed number of transactions outstanding: a new one
  starts when one finishes. Their rate is whatever the network gives back.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "RATE_CONTROLLERS",
    "ClosedController",
    "FixedLoad",
    "FixedRate",
    "LinearRate",
    "MaximumRate",
    "OpenController",
    "RateController",
    "RateOptions",
    "make_controller",
    "register_rate",
    "worker_share",
]


class RateOptions(BaseModel):
    """Options of one rate controller; ``type`` names it in the registry."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str


class RateController(ABC):
    """One worker's part of a round's rate control."""

    name: ClassVar[str]
    closed: ClassVar[bool]
    options_model: ClassVar[type[RateOptions]]

    def __init__(
        self, options: RateOptions, *, worker: int, workers: int, tx_count: int | None, duration_s: float | None
    ) -> None:
        if not 0 <= worker < workers:
            raise ValueError(f"worker {worker} is not in 0..{workers - 1}")
        if (tx_count is None) == (duration_s is None):
            raise ValueError("a round has either a transaction count or a duration")
        self.options = options
        self.worker = worker
        self.workers = workers
        self.tx_count = tx_count
        self.duration_s = duration_s

    @property
    def my_tx_count(self) -> int | None:
        """How many of the round's transactions this worker sends (None: until the duration ends)."""
        return None if self.tx_count is None else worker_share(self.tx_count, self.worker, self.workers)

    def nominal_tps(self) -> float | None:
        """The round's target send rate over all workers, when the controller has one."""
        return None


class OpenController(RateController):
    """A schedule: the global ``i``-th transaction is due ``offset(i)`` seconds after the round starts."""

    closed = False

    def __init__(
        self, options: RateOptions, *, worker: int, workers: int, tx_count: int | None, duration_s: float | None
    ) -> None:
        super().__init__(options, worker=worker, workers=workers, tx_count=tx_count, duration_s=duration_s)
        self._k = 0  # this worker's sends so far

    @abstractmethod
    def offset(self, index: int) -> float:
        """Seconds after the round start at which global transaction ``index`` is due."""

    def next_offset(self) -> float | None:
        """This worker's next due time, or None when its share of the round is sent."""
        index = self.worker + self._k * self.workers
        if self.tx_count is not None and index >= self.tx_count:
            return None
        due = self.offset(index)
        if self.duration_s is not None and due >= self.duration_s:
            return None
        self._k += 1
        return due

    def observe(self, finished_at: float, *, ok: bool) -> None:
        """A transaction finished ``finished_at`` seconds after the round start (for adaptive controllers)."""
        return None


class ClosedController(RateController):
    """A fixed number of outstanding transactions."""

    closed = True

    @abstractmethod
    def concurrency(self) -> int:
        """How many transactions this worker keeps in flight."""


RATE_CONTROLLERS: dict[str, type[RateController]] = {}
_C = TypeVar("_C", bound=type[RateController])


def register_rate(cls: _C) -> _C:
    """Class decorator: make ``cls`` selectable as ``rate: {type: <cls.name>}``."""
    if cls.name in RATE_CONTROLLERS:
        raise ValueError(f"rate controller {cls.name!r} is registered twice")
    RATE_CONTROLLERS[cls.name] = cls
    return cls


def parse_rate_options(data: Any) -> RateOptions:
    """Validate a ``rate:`` mapping with the options model of the controller it names."""
    if isinstance(data, RateOptions):
        return data
    if not isinstance(data, dict):
        raise ValueError(f"must be a mapping with a 'type', one of {', '.join(sorted(RATE_CONTROLLERS))}")
    name = data.get("type")
    if name not in RATE_CONTROLLERS:
        raise ValueError(f"unknown rate controller type {name!r}: choose one of {', '.join(sorted(RATE_CONTROLLERS))}")
    return RATE_CONTROLLERS[name].options_model.model_validate(data)


def make_controller(
    options: RateOptions, *, worker: int, workers: int, tx_count: int | None, duration_s: float | None
) -> RateController:
    cls = RATE_CONTROLLERS[options.type]
    return cls(options, worker=worker, workers=workers, tx_count=tx_count, duration_s=duration_s)


def worker_share(total: int, worker: int, workers: int) -> int:
    """How many of slots ``0..total-1`` fall to ``worker`` when slots are dealt round-robin."""
    return len(range(worker, total, workers))


# ---- fixed-rate --------------------------------------------------------------------------------
class FixedRateOptions(RateOptions):
    tps: float = Field(gt=0, le=100_000, description="Transactions per second, over all workers.")


@register_rate
class FixedRate(OpenController):
    """A constant rate: transaction ``i`` is due at ``i / tps``."""

    name = "fixed-rate"
    options_model = FixedRateOptions

    def offset(self, index: int) -> float:
        assert isinstance(self.options, FixedRateOptions)
        return index / self.options.tps

    def nominal_tps(self) -> float:
        assert isinstance(self.options, FixedRateOptions)
        return self.options.tps


# ---- linear-rate -------------------------------------------------------------------------------
class LinearRateOptions(RateOptions):
    start_tps: float = Field(gt=0, le=100_000, description="Rate at the start of the round.")
    end_tps: float = Field(gt=0, le=100_000, description="Rate at the end of the round.")


@register_rate
class LinearRate(OpenController):
    """A rate changing linearly from ``start_tps`` to ``end_tps``: over the transaction count, or over
    the round's duration (the due time of transaction ``i`` solves ∫rate = i)."""

    name = "linear-rate"
    options_model = LinearRateOptions

    def offset(self, index: int) -> float:
        assert isinstance(self.options, LinearRateOptions)
        s, e = self.options.start_tps, self.options.end_tps
        if self.tx_count is not None:
            # rate as a function of the index: r(k) = s + (e - s) k / N; t(i) = ∫0^i dk / r(k)
            n = self.tx_count
            if math.isclose(s, e):
                return index / s
            return n / (e - s) * math.log((s + (e - s) * index / n) / s)
        # rate as a function of time: r(t) = s + (e - s) t / T; count(t) = s t + (e - s) t² / 2T
        duration = self.duration_s or 0.0
        a = (e - s) / (2 * duration)
        if abs(a) < 1e-12:
            return index / s
        disc = s * s + 4 * a * index
        if disc < 0:
            return math.inf
        return (-s + math.sqrt(disc)) / (2 * a)

    def nominal_tps(self) -> float:
        assert isinstance(self.options, LinearRateOptions)
        return (self.options.start_tps + self.options.end_tps) / 2


# ---- maximum-rate ------------------------------------------------------------------------------
class MaximumRateOptions(RateOptions):
    tps: float = Field(gt=0, le=100_000, description="Starting rate, over all workers.")
    step_tps: float = Field(5.0, gt=0, le=10_000, description="Change of the rate after each sample interval.")
    sample_interval_s: float = Field(5.0, gt=0, le=600, description="How often the rate is adjusted.")
    keep_up: float = Field(0.95, gt=0, le=1, description="Finished/sent ratio above which the rate is raised.")


@register_rate
class MaximumRate(OpenController):
    """Look for the highest sustainable rate: still a schedule, but after each sample interval the
    rate goes up by ``step_tps`` if transactions finished at ≥ ``keep_up`` of the rate sent, else
    down by ``step_tps`` (after Caliper's maximum-rate). Each worker adapts its own share."""

    name = "maximum-rate"
    options_model = MaximumRateOptions

    def __init__(
        self, options: RateOptions, *, worker: int, workers: int, tx_count: int | None, duration_s: float | None
    ) -> None:
        super().__init__(options, worker=worker, workers=workers, tx_count=tx_count, duration_s=duration_s)
        assert isinstance(options, MaximumRateOptions)
        self._opts = options
        self._rate = options.tps / workers
        self._step = options.step_tps / workers
        self._first_due = worker / options.tps  # stagger the workers like the global schedule would
        self._last: float | None = None
        self._window_end = options.sample_interval_s
        self._finished_in_window = 0
        self.rates: list[float] = [options.tps]  # the all-worker rate after each adjustment

    def offset(self, index: int) -> float:  # pragma: no cover - this controller is stateful
        raise NotImplementedError("maximum-rate has no closed-form schedule")

    def next_offset(self) -> float | None:
        if self.tx_count is not None and self._k >= (self.my_tx_count or 0):
            return None
        if self._last is None:
            due = self._first_due
        else:
            due = self._last + 1.0 / self._rate
            while due >= self._window_end - 1e-9:
                window_start = self._window_end
                self._adjust()
                due = max(window_start, self._last + 1.0 / self._rate)
        if self.duration_s is not None and due >= self.duration_s:
            return None
        self._k += 1
        self._last = due
        return due

    def _adjust(self) -> None:
        achieved = self._finished_in_window / self._opts.sample_interval_s
        if achieved >= self._opts.keep_up * self._rate:
            self._rate += self._step
        else:
            self._rate = max(self._step, self._rate - self._step)
        self._finished_in_window = 0
        self._window_end += self._opts.sample_interval_s
        self.rates.append(self._rate * self.workers)

    def observe(self, finished_at: float, *, ok: bool) -> None:
        if ok:
            self._finished_in_window += 1


# ---- fixed-load --------------------------------------------------------------------------------
class FixedLoadOptions(RateOptions):
    transaction_load: int = Field(gt=0, le=100_000, description="Outstanding transactions, over all workers.")


@register_rate
class FixedLoad(ClosedController):
    """A closed loop: ``transaction_load`` transactions always outstanding (split over the workers)."""

    name = "fixed-load"
    options_model = FixedLoadOptions

    def concurrency(self) -> int:
        assert isinstance(self.options, FixedLoadOptions)
        return worker_share(self.options.transaction_load, self.worker, self.workers)
