"""Policies compared on identical traces: latency mean, p95 and deadline misses, with confidence intervals.

Every policy replays the same list of seeded traces (one per run). Per run we take the mean and
the 95th percentile of task latency and the share of missed deadlines; across runs we report the
mean of each with a two-sided 95% Student-t confidence interval. A sweep repeats that for each
arrival rate and cluster size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from orchestrator.policy.base import SelectionPolicy
from orchestrator.sim.cluster import ClusterSimulator, StepRecord
from orchestrator.sim.config import SimConfig
from orchestrator.sim.traces import Trace, generate_traces

# two-sided 95% Student-t quantiles for 1..30 degrees of freedom; the normal 1.96 beyond
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t95(dof: int) -> float:
    """The 0.975 quantile of Student's t with ``dof`` degrees of freedom."""
    if dof < 1:
        return math.nan
    return _T95[dof - 1] if dof <= len(_T95) else 1.96


def mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% confidence interval); the half-width is NaN for one value."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return math.nan, math.nan
    mean = float(data.mean())
    if data.size == 1:
        return mean, math.nan
    return mean, t95(data.size - 1) * float(data.std(ddof=1)) / math.sqrt(data.size)


@dataclass(frozen=True)
class RunResult:
    """One policy on one trace."""

    policy: str
    run: int
    trace_seed: int
    tasks: int
    mean_latency_s: float
    p95_latency_s: float
    miss_rate: float
    mean_reward: float
    mean_select_us: float  # wall time of one select() call, microseconds


@dataclass(frozen=True)
class Summary:
    """One policy over repeated runs: means with 95% CI half-widths."""

    policy: str
    runs: int
    mean_latency_s: float
    mean_latency_ci: float
    p95_latency_s: float
    p95_latency_ci: float
    miss_rate: float
    miss_rate_ci: float
    mean_select_us: float


def run_policy(
    policy: SelectionPolicy, config: SimConfig, trace: Trace, *, name: str, run: int = 0
) -> tuple[RunResult, list[StepRecord]]:
    """Replay ``trace`` with ``policy`` choosing every executor."""
    sim = ClusterSimulator(config, trace)
    policy.reset(seed=trace.seed)
    records: list[StepRecord] = []
    select_ns = 0
    while not sim.done:
        view, task = sim.view(), sim.task()
        started = time.perf_counter_ns()
        node = policy.select(view, task)
        select_ns += time.perf_counter_ns() - started
        records.append(sim.assign(node))
    latency = np.array([r.latency_s for r in records])
    result = RunResult(
        policy=name,
        run=run,
        trace_seed=trace.seed,
        tasks=len(records),
        mean_latency_s=float(latency.mean()),
        p95_latency_s=float(np.percentile(latency, 95)),
        miss_rate=float(np.mean([r.missed for r in records])),
        mean_reward=float(np.mean([r.reward for r in records])),
        mean_select_us=select_ns / len(records) / 1e3,
    )
    return result, records


def summarize(results: Sequence[RunResult]) -> Summary:
    """Mean and 95% CI over the runs of one policy."""
    if not results:
        raise ValueError("no runs to summarize")
    mean, mean_h = mean_ci([r.mean_latency_s for r in results])
    p95, p95_h = mean_ci([r.p95_latency_s for r in results])
    miss, miss_h = mean_ci([r.miss_rate for r in results])
    return Summary(
        policy=results[0].policy,
        runs=len(results),
        mean_latency_s=mean,
        mean_latency_ci=mean_h,
        p95_latency_s=p95,
        p95_latency_ci=p95_h,
        miss_rate=miss,
        miss_rate_ci=miss_h,
        mean_select_us=float(np.mean([r.mean_select_us for r in results])),
    )


# A factory gets the config of the cell being run and returns a fresh policy, or None when the
# policy does not apply there (a DDPG policy trained for another N).
PolicyFactory = Callable[[SimConfig], SelectionPolicy | None]


def compare(
    policies: dict[str, PolicyFactory], config: SimConfig, *, runs: int, steps: int, seed: int
) -> list[RunResult]:
    """Every policy on the same ``runs`` traces; one RunResult per policy and run."""
    traces = generate_traces(config, steps=steps, runs=runs, seed=seed)
    results: list[RunResult] = []
    for name, factory in policies.items():
        policy = factory(config)
        if policy is None:
            continue
        for run, trace in enumerate(traces):
            result, _ = run_policy(policy, config, trace, name=name, run=run)
            results.append(result)
    return results


def summary_frame(results: Sequence[RunResult], **labels: float | int | str) -> pd.DataFrame:
    """One row per policy (in first-seen order) with ``labels`` as extra leading columns."""
    order = list(dict.fromkeys(r.policy for r in results))
    rows = []
    for name in order:
        row: dict[str, float | int | str] = dict(labels)
        row.update(asdict(summarize([r for r in results if r.policy == name])))
        rows.append(row)
    return pd.DataFrame(rows)


def sweep(
    policies: dict[str, PolicyFactory],
    config: SimConfig,
    *,
    arrival_rates: Sequence[float] = (),
    node_counts: Sequence[int] = (),
    runs: int,
    steps: int,
    seed: int,
    on_cell: Callable[[str, float], None] | None = None,
) -> pd.DataFrame:
    """Summaries over arrival rate (at the config's N) and over N (at the config's rate).

    Columns: ``sweep`` ('arrival_rate_hz' or 'n_nodes'), ``value``, ``arrival_rate_hz``,
    ``n_nodes``, then the :class:`Summary` fields.
    """
    frames = []
    cells: list[tuple[str, float, SimConfig]] = [
        ("arrival_rate_hz", float(rate), config.with_updates(arrival_rate_hz=rate)) for rate in arrival_rates
    ]
    cells += [("n_nodes", float(n), config.with_updates(n_nodes=n)) for n in node_counts]
    for axis, value, cell in cells:
        if on_cell is not None:
            on_cell(axis, value)
        results = compare(policies, cell, runs=runs, steps=steps, seed=seed)
        frames.append(
            summary_frame(
                results, sweep=axis, value=value, arrival_rate_hz=cell.arrival_rate_hz, n_nodes=cell.n_nodes
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
