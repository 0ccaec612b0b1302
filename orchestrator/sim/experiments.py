"""The experiments behind ``mecfab sim``: repeated training, optimizer timing, policy sweeps.

Each function trains or simulates, writes its CSV, PNG and policy files into one folder, and
returns what it wrote; progress goes through optional callbacks (the CLI draws the bars).
Everything is seeded: the same arguments give the same files (up to wall-clock columns).

Imports torch (through :mod:`orchestrator.sim.ddpg`).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import pandas as pd

from orchestrator.errors import ConfigError
from orchestrator.policy.registry import BASELINES
from orchestrator.sim import figures
from orchestrator.sim.config import DdpgConfig, OptimizerName, SimConfig
from orchestrator.sim.ddpg import EpisodeStats, TrainingResult, save_policy, train
from orchestrator.sim.evaluate import policy_factories, sweep
from orchestrator.sim.traces import trace_seeds

EPISODES_CSV = "training_episodes.csv"
TRIALS_CSV = "training_trials.csv"
SWEEP_CSV = "sweep.csv"
RUN_INFO = "run.json"

EpisodeCallback = Callable[[EpisodeStats], None]


def policy_path(out_dir: Path, n_nodes: int) -> Path:
    """Where the trained policy for an N-node cluster lives in a results folder."""
    return out_dir / f"ddpg_policy_n{n_nodes}.pt"


# ----------------------------------------------------------------------------- run facts
def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def write_run_info(out_dir: Path, *, command: str, **facts: object) -> Path:
    """Record the resolved configuration, versions, git commit and host beside the results."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RUN_INFO
    runs: dict[str, object] = json.loads(path.read_text()) if path.is_file() else {}
    runs[command] = {
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "python": sys.version.split()[0],
        "packages": {p: _version(p) for p in ("numpy", "pandas", "torch", "gymnasium", "mec-fabric")},
        "host": {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor()},
        **facts,
    }
    path.write_text(json.dumps(runs, indent=2, default=str) + "\n")
    return path


# ----------------------------------------------------------------------------- training
def episodes_frame(results: Sequence[TrainingResult]) -> pd.DataFrame:
    """One row per episode of every training run."""
    return pd.DataFrame([{**asdict(e), "optimizer": r.optimizer, "seed": r.seed} for r in results for e in r.episodes])


def trials_frame(results: Sequence[TrainingResult]) -> pd.DataFrame:
    """One row per training run: its seed, optimizer, wall time and final reward."""
    return pd.DataFrame(
        [
            {
                "trial": r.trial,
                "seed": r.seed,
                "optimizer": r.optimizer,
                "n_nodes": r.agent.n_nodes,
                "episodes": len(r.episodes),
                "seconds": r.seconds,
                "final_reward": r.final_reward(),
            }
            for r in results
        ]
    )


def train_trials(
    sim_config: SimConfig,
    ddpg_config: DdpgConfig,
    *,
    trials: int,
    episodes: int,
    steps: int,
    seed: int,
    on_episode: EpisodeCallback | None = None,
) -> list[TrainingResult]:
    """``trials`` independent trainings, each with its own derived seed."""
    if trials < 1:
        raise ConfigError(f"trials must be >= 1, got {trials}")
    return [
        train(
            sim_config,
            ddpg_config,
            episodes=episodes,
            steps=steps,
            seed=trial_seed,
            trial=trial,
            on_episode=on_episode,
        )
        for trial, trial_seed in enumerate(trace_seeds(seed, trials))
    ]


@dataclass(frozen=True)
class TrainOutputs:
    policy: Path
    best_trial: int
    results: tuple[TrainingResult, ...]
    files: tuple[Path, ...]


def run_training(
    out_dir: Path,
    sim_config: SimConfig,
    ddpg_config: DdpgConfig,
    *,
    trials: int,
    episodes: int,
    steps: int,
    seed: int,
    on_episode: EpisodeCallback | None = None,
) -> TrainOutputs:
    """Train ``trials`` policies, keep the best (highest final reward), draw Fig. 1 and Fig. 2."""
    results = train_trials(
        sim_config, ddpg_config, trials=trials, episodes=episodes, steps=steps, seed=seed, on_episode=on_episode
    )
    best = max(results, key=lambda r: r.final_reward())
    out_dir.mkdir(parents=True, exist_ok=True)
    policy = save_policy(best, policy_path(out_dir, sim_config.n_nodes))
    episodes_df = episodes_frame(results)
    episodes_df.to_csv(out_dir / EPISODES_CSV, index=False)
    trials_frame(results).to_csv(out_dir / TRIALS_CSV, index=False)
    fig1 = figures.reward_pdf(episodes_df, out_dir)
    fig2 = figures.reward_per_episode(episodes_df, out_dir)
    info = write_run_info(
        out_dir,
        command="train",
        sim_config=sim_config.model_dump(),
        ddpg_config=ddpg_config.model_dump(),
        trials=trials,
        episodes=episodes,
        steps=steps,
        seed=seed,
        best_trial=best.trial,
        seconds=[r.seconds for r in results],
    )
    files = (policy, out_dir / EPISODES_CSV, out_dir / TRIALS_CSV, fig1.png, fig1.csv, fig2.png, fig2.csv, info)
    return TrainOutputs(policy=policy, best_trial=best.trial, results=tuple(results), files=files)


def redraw_training_figures(out_dir: Path) -> tuple[figures.FigureFiles, figures.FigureFiles]:
    """Fig. 1 and Fig. 2 again from the CSV a previous ``run_training`` left in ``out_dir``."""
    path = out_dir / EPISODES_CSV
    if not path.is_file():
        raise ConfigError(f"{path} not found; run `mecfab sim train --out {out_dir}` first")
    data = pd.read_csv(path)
    return figures.reward_pdf(data, out_dir), figures.reward_per_episode(data, out_dir)


def run_optimizer_timing(
    out_dir: Path,
    sim_config: SimConfig,
    ddpg_config: DdpgConfig,
    *,
    optimizers: Sequence[OptimizerName],
    episodes: int,
    steps: int,
    seed: int,
    on_episode: EpisodeCallback | None = None,
) -> tuple[pd.DataFrame, figures.FigureFiles]:
    """One training per optimizer, same seed and traces, timed; draws the optimizer figure."""
    results = [
        train(
            sim_config,
            ddpg_config.with_updates(optimizer=name),
            episodes=episodes,
            steps=steps,
            seed=seed,
            trial=i,
            on_episode=on_episode,
        )
        for i, name in enumerate(optimizers)
    ]
    runs = trials_frame(results)
    return runs, figures.training_time_by_optimizer(runs, out_dir)


# ----------------------------------------------------------------------------- comparison
def default_policies(with_ddpg: bool) -> tuple[str, ...]:
    return (*BASELINES, "ddpg") if with_ddpg else BASELINES


def run_sweep(
    out_dir: Path,
    sim_config: SimConfig,
    *,
    policies: Sequence[str],
    model_paths: Mapping[int, Path],
    rates: Sequence[float],
    nodes: Sequence[int],
    runs: int,
    steps: int,
    seed: int,
    on_cell: Callable[[str, float], None] | None = None,
) -> tuple[pd.DataFrame, list[figures.FigureFiles]]:
    """Every policy on identical traces across ``rates`` and ``nodes``; figures for each axis swept."""
    data = sweep(
        policy_factories(policies, model_paths=model_paths, seed=seed),
        sim_config,
        arrival_rates=rates,
        node_counts=nodes,
        runs=runs,
        steps=steps,
        seed=seed,
        on_cell=on_cell,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    data.to_csv(out_dir / SWEEP_CSV, index=False)
    drawn = []
    if rates:
        drawn.append(figures.latency_vs_load(data, out_dir))
    if nodes:
        drawn.append(figures.latency_vs_nodes(data, out_dir))
    return data, drawn
