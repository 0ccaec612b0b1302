"""PNG figures (matplotlib, Agg): the paper's Figs. 4 and 5 and a few more.

A *series* is a name and the round summaries of one workload, plotted against the input rate
(the target of an open schedule, else the measured send rate). One results folder gives one series
per workload; ``compare`` overlays the series of two folders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = [
    "Series",
    "plot_latency",
    "plot_phases",
    "plot_resources",
    "plot_throughput",
    "plot_timeline",
    "series_of",
]

ROLE_STYLE = {"peer": "o", "orderer": "s", "chaincode": "^"}
DPI = 110


@dataclass(frozen=True)
class Series:
    name: str
    kind: str  # submit | evaluate
    rounds: tuple[dict[str, Any], ...]  # sorted by input rate

    def x(self) -> np.ndarray:
        return np.array([r["input_rate_tps"] for r in self.rounds], dtype=float)


def series_of(summary: dict[str, Any], *, prefix: str = "") -> list[Series]:
    """One series per workload of a summary, each sorted by input rate (rounds without one are left out)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in summary["rounds"]:
        if r.get("input_rate_tps") is None:
            continue
        groups.setdefault(str(r["workload"]), []).append(r)
    return [
        Series(
            name=f"{prefix}{workload}",
            kind=str(rounds[0]["kind"]),
            rounds=tuple(sorted(rounds, key=lambda r: float(r["input_rate_tps"]))),
        )
        for workload, rounds in sorted(groups.items())
    ]


def _values(rounds: Sequence[dict[str, Any]], *path: str) -> np.ndarray:
    out = []
    for r in rounds:
        value: Any = r
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        out.append(np.nan if value is None else float(value))
    return np.array(out, dtype=float)


def _finish(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _empty(ax: Any, text: str = "no rounds with an input rate") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")


def plot_latency(series: Sequence[Series], path: Path, *, title: str = "Latency vs input rate") -> Path:
    """Average and p99 latency (s) against the input rate: transaction latency for writes, read latency for reads."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for s in series:
        what = "tx" if s.kind == "submit" else "read"
        (line,) = ax.plot(s.x(), _values(s.rounds, "latency_s", "avg"), marker="o", label=f"{s.name} {what} avg")
        ax.plot(
            s.x(),
            _values(s.rounds, "latency_s", "p50"),
            marker=".",
            linestyle=":",
            color=line.get_color(),
            label=f"{s.name} p50",
        )
        ax.plot(
            s.x(),
            _values(s.rounds, "latency_s", "p99"),
            marker="x",
            linestyle="--",
            color=line.get_color(),
            label=f"{s.name} p99",
        )
    if not series:
        _empty(ax)
    ax.set_xlabel("input transaction rate (tx/s)")
    ax.set_ylabel("latency (s)")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=7)
    return _finish(fig, path)


def plot_throughput(series: Sequence[Series], path: Path, *, title: str = "Throughput vs input rate") -> Path:
    """Committed valid tx/s (writes) or answered reads/s against the input rate, with the send rate and y = x."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    top = 0.0
    for s in series:
        x = s.x()
        (line,) = ax.plot(x, _values(s.rounds, "throughput_tps"), marker="o", label=f"{s.name} throughput")
        ax.plot(
            x,
            _values(s.rounds, "send_rate_tps"),
            marker=".",
            linestyle=":",
            color=line.get_color(),
            label=f"{s.name} send rate",
        )
        top = max(top, float(np.nanmax(x)) if x.size else 0.0)
    if top > 0:
        ax.plot([0, top], [0, top], color="grey", linewidth=0.8, linestyle="--", label="throughput = input")
    if not series:
        _empty(ax)
    ax.set_xlabel("input transaction rate (tx/s)")
    ax.set_ylabel("tx/s")
    ax.set_title(title)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=7)
    return _finish(fig, path)


def plot_resources(
    series: Sequence[Series], path: Path, *, title: str = "CPU and memory per container role vs input rate"
) -> Path:
    """The paper's Fig. 5: mean CPU % and memory (MB) per container of each role, against the input rate."""
    fig, (ax_cpu, ax_mem) = plt.subplots(2, 1, figsize=(7, 6.4), sharex=True)
    plotted = False
    for s in series:
        x = s.x()
        for role, marker in ROLE_STYLE.items():
            cpu = _values(s.rounds, "resources", "roles", role, "cpu_pct_avg")
            mem = _values(s.rounds, "resources", "roles", role, "mem_mb_avg")
            if np.all(np.isnan(cpu)) and np.all(np.isnan(mem)):
                continue
            ax_cpu.plot(x, cpu, marker=marker, label=f"{s.name} {role}")
            ax_mem.plot(x, mem, marker=marker, label=f"{s.name} {role}")
            plotted = True
    if not plotted:
        _empty(ax_cpu, "no resource samples")
    ax_cpu.set_ylabel("CPU (% of one core, per container)")
    ax_mem.set_ylabel("memory (MB, per container)")
    ax_mem.set_xlabel("input transaction rate (tx/s)")
    ax_cpu.set_title(title)
    for ax in (ax_cpu, ax_mem):
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        if plotted:
            ax.legend(fontsize=7, ncol=2)
    return _finish(fig, path)


def plot_phases(rounds: Sequence[dict[str, Any]], path: Path, *, title: str = "Where a write spends its time") -> Path:
    """Stacked average endorse / order / commit time of the valid writes of each round."""
    writes = [r for r in rounds if r.get("kind") == "submit" and r.get("phases_s")]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(writes) + 2), 4.2))
    bottom = np.zeros(len(writes))
    labels = [str(r["label"]) for r in writes]
    for phase in ("endorse", "order", "commit"):
        values = np.nan_to_num(_values(writes, "phases_s", phase, "avg"))
        ax.bar(labels, values, bottom=bottom, label=phase)
        bottom += values
    if not writes:
        _empty(ax, "no write rounds")
    ax.set_ylabel("average time (s)")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right", fontsize=8)
    if writes:
        ax.legend(fontsize=8)
    return _finish(fig, path)


def plot_timeline(
    records: pd.DataFrame, rounds: Sequence[dict[str, Any]], path: Path, *, title: str = "Sent and finished per second"
) -> Path:
    """Transactions sent and successfully finished in each second of the run, with the rounds marked."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    if len(records):
        t0 = float(records["start"].min())
        end = float(np.nanmax(records["end"].to_numpy(dtype=float)))
        bins = np.arange(0.0, max(1.0, end - t0) + 1.0, 1.0)
        ok = records[records["status"].isin(("valid", "ok"))]
        sent, _ = np.histogram(records["start"].to_numpy(dtype=float) - t0, bins=bins)
        done, _ = np.histogram(ok["end"].to_numpy(dtype=float) - t0, bins=bins)
        ax.step(bins[:-1], sent, where="post", label="sent")
        ax.step(bins[:-1], done, where="post", label="committed valid / answered")
        for r in rounds:
            ax.axvline(float(r["start"]) - t0, color="grey", linewidth=0.6, linestyle=":")
        ax.legend(fontsize=8)
    else:
        _empty(ax, "no records")
    ax.set_xlabel("seconds since the first send")
    ax.set_ylabel("per second")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _finish(fig, path)
