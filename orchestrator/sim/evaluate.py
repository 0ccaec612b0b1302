"""Policies compared on identical traces: latency mean, p95 and deadline misses, with confidence intervals.

Every policy replays the same list of seeded traces (one per run). Per run we take the mean and
the 95th percentile of task latency and the share of missed deadlines; across runs we report the
mean of each with a two-sided 95% Student-t confidence interval. A sweep repeats that for each
arrival rate and cluster size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from orchestrator.policy.base import SelectionPolicy
from orchestrator.policy.registry import PolicyOptions, create_policy
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


def paired_difference(results: Sequence[RunResult], policy: str, reference: str) -> tuple[float, float]:
    """Mean over runs of ``policy``'s mean latency minus ``reference``'s on the same trace, with 95% CI.

    Pairing by trace removes the run-to-run spread of the workload, so this interval is much
    tighter than the two policies' separate intervals.
    """
    ours = {r.run: r.mean_latency_s for r in results if r.policy == policy}
    theirs = {r.run: r.mean_latency_s for r in results if r.policy == reference}
    runs = sorted(set(ours) & set(theirs))
    return mean_ci([ours[run] - theirs[run] for run in runs])


# A factory gets the config of the cell being run and returns a fresh policy, or None when the
# policy does not apply there (a DDPG policy trained for another N).
PolicyFactory = Callable[[SimConfig], SelectionPolicy | None]


def compare(
    policies: Mapping[str, PolicyFactory], config: SimConfig, *, runs: int, steps: int, seed: int
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
    """One row per policy (in first-seen order) with ``labels`` as extra leading columns.

    ``gap_to_best_other_s`` is the paired mean-latency difference to the best other policy
    (``best_other``), negative when this policy is faster, with its 95% CI.
    """
    order = list(dict.fromkeys(r.policy for r in results))
    summaries = {name: summarize([r for r in results if r.policy == name]) for name in order}
    rows = []
    for name in order:
        row: dict[str, float | int | str] = dict(labels)
        row.update(asdict(summaries[name]))
        others = [o for o in order if o != name]
        if others:  # the paired gap to the best of the other policies on the same traces
            best = min(others, key=lambda o: summaries[o].mean_latency_s)
            gap, gap_ci = paired_difference(results, name, best)
            row.update(best_other=best, gap_to_best_other_s=gap, gap_to_best_other_ci=gap_ci)
        rows.append(row)
    return pd.DataFrame(rows)


def sweep(
    policies: Mapping[str, PolicyFactory],
    config: SimConfig,
    *,
    arrival_rates: Sequence[float] = (),
    node_counts: Sequence[int] = (),
    runs: int,
    steps: int,
    seed: int,
    rate_per_node: bool = True,
    on_cell: Callable[[str, float], None] | None = None,
) -> pd.DataFrame:
    """Summaries over arrival rate (at the config's N) and over N.

    Across N the arrival rate grows with the cluster (``rate_per_node``: λ·N/N0, the same load per
    node) unless ``rate_per_node`` is False, when it stays at the config's λ.

    Columns: ``sweep`` ('arrival_rate_hz' or 'n_nodes'), ``value``, ``arrival_rate_hz``,
    ``n_nodes``, then the :class:`Summary` fields.
    """
    frames = []
    cells: list[tuple[str, float, SimConfig]] = [
        ("arrival_rate_hz", float(rate), config.with_updates(arrival_rate_hz=rate)) for rate in arrival_rates
    ]
    for n in node_counts:
        rate = config.arrival_rate_hz * n / config.n_nodes if rate_per_node else config.arrival_rate_hz
        cells.append(("n_nodes", float(n), config.with_updates(n_nodes=n, arrival_rate_hz=rate)))
    for axis, value, cell in cells:
        if on_cell is not None:
            on_cell(axis, value)
        results = compare(policies, cell, runs=runs, steps=steps, seed=seed)
        frames.append(
            summary_frame(results, sweep=axis, value=value, arrival_rate_hz=cell.arrival_rate_hz, n_nodes=cell.n_nodes)
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def policy_factories(names: Sequence[str], *, model_paths: Mapping[int, Path], seed: int) -> dict[str, PolicyFactory]:
    """Factories for :func:`orchestrator.sim.evaluate.sweep`; ``ddpg`` uses the file for each N, if any."""
    factories: dict[str, PolicyFactory] = {}
    for name in names:
        if name == "ddpg":

            def ddpg(config: SimConfig) -> SelectionPolicy | None:
                path = model_paths.get(config.n_nodes)
                if path is None:
                    return None
                from orchestrator.policy.ddpg import DdpgPolicy  # torch only when a DDPG policy is used

                return DdpgPolicy.load(path, n_nodes=config.n_nodes)

            factories[name] = ddpg
        else:
            create_policy(name)  # fail early on an unknown name

            def baseline(config: SimConfig, name: str = name) -> SelectionPolicy:
                return create_policy(name, PolicyOptions(seed=seed, n_nodes=config.n_nodes))

            factories[name] = baseline
    return factories
