"""The paper's figures and ours, as PNG + CSV (pandas, matplotlib with the Agg backend).

* Fig. 1 analog ``fig1_reward_pdf``: distribution (Gaussian kernel density) of the episode reward
  of each training trial.
* Fig. 2 analog ``fig2_reward_per_episode``: reward per episode of each trial with its moving average.
* ``fig3_training_time_by_optimizer``: wall time of one training per optimizer, and its final reward.
* ``fig4_latency_vs_load`` / ``fig5_latency_vs_nodes``: task latency (mean, p95) and deadline misses
  of DDPG and every baseline across arrival rate and cluster size, with 95% confidence intervals.

Each function takes tidy data frames and writes ``<name>.png`` and ``<name>.csv`` (the data
plotted) into a folder; nothing here trains or simulates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

DPI = 120


@dataclass(frozen=True)
class FigureFiles:
    name: str
    png: Path
    csv: Path


def _save(fig: Figure, data: pd.DataFrame, out_dir: Path, name: str) -> FigureFiles:
    out_dir.mkdir(parents=True, exist_ok=True)
    png, csv = out_dir / f"{name}.png", out_dir / f"{name}.csv"
    fig.tight_layout()
    fig.savefig(png, dpi=DPI)
    plt.close(fig)
    data.to_csv(csv, index=False)
    return FigureFiles(name=name, png=png, csv=csv)


def gaussian_kde(samples: Sequence[float] | np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of ``samples`` on ``grid`` (Silverman's bandwidth)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size == 0:
        return np.zeros_like(grid)
    spread = min(float(x.std(ddof=1)) if x.size > 1 else 0.0, float(np.subtract(*np.percentile(x, [75, 25]))) / 1.34)
    if spread <= 0:
        spread = float(x.std()) or 1.0
    h = 0.9 * spread * x.size ** (-0.2)
    z = (grid[:, None] - x[None, :]) / h
    return np.asarray(np.exp(-0.5 * z**2).sum(axis=1) / (x.size * h * np.sqrt(2 * np.pi)), dtype=np.float64)


def moving_average(values: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving average; the first ``window - 1`` points average what exists so far."""
    return np.asarray(pd.Series(values, dtype=float).rolling(window, min_periods=1).mean().to_numpy())


def reward_pdf(episodes: pd.DataFrame, out_dir: Path, *, points: int = 200) -> FigureFiles:
    """Fig. 1 analog from ``episodes`` (columns ``trial``, ``episode``, ``reward``)."""
    low, high = float(episodes["reward"].min()), float(episodes["reward"].max())
    pad = 0.05 * (high - low or 1.0)
    grid = np.linspace(low - pad, high + pad, points)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    rows = []
    for trial, group in episodes.groupby("trial", sort=True):
        rewards = group["reward"].to_numpy()
        density = gaussian_kde(rewards, grid)
        ax.plot(grid, density, label=f"trial {trial} (μ={rewards.mean():.1f}, σ={rewards.std(ddof=1):.1f})")
        rows += [
            {"trial": trial, "reward": g, "density": d, "trial_mean": rewards.mean(), "trial_std": rewards.std(ddof=1)}
            for g, d in zip(grid, density, strict=True)
        ]
    ax.set_xlabel("reward per episode (−s of task latency, with deadline penalties)")
    ax.set_ylabel("probability density")
    ax.set_title("Fig. 1 analog: reward distribution per training trial")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, pd.DataFrame(rows), out_dir, "fig1_reward_pdf")


def reward_per_episode(episodes: pd.DataFrame, out_dir: Path, *, window: int = 20) -> FigureFiles:
    """Fig. 2 analog: each trial's reward per episode (faint) and its ``window``-episode moving average."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    frames = []
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (trial, group) in enumerate(episodes.groupby("trial", sort=True)):
        group = group.sort_values("episode")
        avg = moving_average(group["reward"].to_list(), window)
        color = colors[i % len(colors)]
        ax.plot(group["episode"], group["reward"], color=color, alpha=0.18, linewidth=0.7)
        ax.plot(group["episode"], avg, color=color, linewidth=1.5, label=f"trial {trial}")
        frames.append(
            pd.DataFrame({"trial": trial, "episode": group["episode"], "reward": group["reward"], "moving_avg": avg})
        )
    ax.set_xlabel("episode")
    ax.set_ylabel("reward per episode")
    ax.set_title(f"Fig. 2 analog: reward per episode, {window}-episode moving average")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, pd.concat(frames, ignore_index=True), out_dir, "fig2_reward_per_episode")


def training_time_by_optimizer(runs: pd.DataFrame, out_dir: Path) -> FigureFiles:
    """Training wall time and final reward per optimizer (``runs``: optimizer, seconds, final_reward)."""
    data = (
        runs.groupby("optimizer", sort=False)
        .agg(seconds=("seconds", "mean"), final_reward=("final_reward", "mean"), trials=("seconds", "size"))
        .reset_index()
    )
    episodes = f", {int(runs['episodes'].iloc[0])} episodes" if "episodes" in runs and len(runs) else ""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    left.bar(data["optimizer"], data["seconds"], color="tab:blue")
    left.set_ylabel("training time [s]")
    left.set_title(f"training time per optimizer{episodes}")
    right.bar(data["optimizer"], data["final_reward"], color="tab:green")
    right.set_ylabel("mean reward, last 50 episodes")
    right.set_title("final reward per optimizer")
    return _save(fig, data, out_dir, "fig3_training_time_by_optimizer")


_METRICS = (
    ("mean_latency_s", "mean_latency_ci", "mean task latency [s]"),
    ("p95_latency_s", "p95_latency_ci", "p95 task latency [s]"),
    ("miss_rate", "miss_rate_ci", "deadline-miss rate"),
)


def _sweep_figure(data: pd.DataFrame, out_dir: Path, *, name: str, xlabel: str, title: str) -> FigureFiles:
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9))
    for ax, (metric, ci, label) in zip(axes, _METRICS, strict=True):
        for policy, group in data.groupby("policy", sort=False):
            group = group.sort_values("value")
            style = {"linewidth": 2.2, "color": "black"} if policy == "ddpg" else {"linewidth": 1.2}
            half = group[ci].fillna(0.0).to_numpy()
            value = group[metric].to_numpy()
            ax.errorbar(
                group["value"],
                value,
                yerr=np.vstack([np.minimum(half, value), half]),  # no interval below zero
                marker="o",
                markersize=3,
                capsize=2,
                label=str(policy),
                **style,
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        if metric != "miss_rate":
            ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    return _save(fig, data, out_dir, name)


def latency_vs_load(sweep: pd.DataFrame, out_dir: Path) -> FigureFiles:
    """Latency and misses against arrival rate (rows of a sweep with ``sweep == 'arrival_rate_hz'``)."""
    data = sweep[sweep["sweep"] == "arrival_rate_hz"].reset_index(drop=True)
    n = int(data["n_nodes"].iloc[0]) if len(data) else 0
    return _sweep_figure(
        data,
        out_dir,
        name="fig4_latency_vs_load",
        xlabel="task arrival rate λ [tasks/s]",
        title=f"DDPG against the baselines across load (N={n}, 95% CI over runs)",
    )


def latency_vs_nodes(sweep: pd.DataFrame, out_dir: Path) -> FigureFiles:
    """Latency and misses against cluster size (rows with ``sweep == 'n_nodes'``)."""
    data = sweep[sweep["sweep"] == "n_nodes"].reset_index(drop=True)
    per_node: list[float] = sorted(set((data["arrival_rate_hz"] / data["n_nodes"]).round(6).tolist()))
    load = f"λ/N={per_node[0]:g} tasks/s per node" if len(per_node) == 1 else "λ as configured"
    return _sweep_figure(
        data,
        out_dir,
        name="fig5_latency_vs_nodes",
        xlabel="edge nodes N",
        title=f"DDPG against the baselines across cluster size ({load}, 95% CI over runs)",
    )
