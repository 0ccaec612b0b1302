"""Policies on identical traces, confidence intervals, sweeps, figures and the CLI (no torch needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from orchestrator.policy import BASELINES, create_policy
from orchestrator.sim import figures
from orchestrator.sim.config import SimConfig
from orchestrator.sim.evaluate import compare, mean_ci, run_policy, summarize, sweep, t95
from orchestrator.sim.traces import generate_trace
from orchestrator.sim_cli import sim_app


def test_mean_ci_matches_hand_computation() -> None:
    mean, half = mean_ci([1.0, 2.0, 3.0])
    # s = 1, t(0.975, 2) = 4.303, half = 4.303 / sqrt(3)
    assert mean == pytest.approx(2.0)
    assert half == pytest.approx(4.303 / np.sqrt(3.0))
    assert np.isnan(mean_ci([5.0])[1])
    assert t95(100) == 1.96


def test_same_trace_same_result_and_oracle_beats_random() -> None:
    config = SimConfig(arrival_rate_hz=8.0)
    trace = generate_trace(config, steps=150, seed=11)
    a, records = run_policy(create_policy("least-loaded"), config, trace, name="ll")
    b, _ = run_policy(create_policy("least-loaded"), config, trace, name="ll")
    assert a.mean_latency_s == b.mean_latency_s and len(records) == 150
    oracle, _ = run_policy(create_policy("min-latency"), config, trace, name="oracle")
    rand, _ = run_policy(create_policy("random"), config, trace, name="random")
    assert oracle.mean_latency_s < rand.mean_latency_s


def test_compare_runs_every_policy_on_the_same_traces() -> None:
    factories = {name: (lambda c, name=name: create_policy(name)) for name in BASELINES}
    results = compare(factories, SimConfig(), runs=3, steps=30, seed=2)
    assert len(results) == 3 * len(BASELINES)
    seeds = {name: [r.trace_seed for r in results if r.policy == name] for name in BASELINES}
    assert len({tuple(s) for s in seeds.values()}) == 1
    summary = summarize([r for r in results if r.policy == "min-latency"])
    assert summary.runs == 3 and summary.mean_latency_ci >= 0


def test_sweep_and_figures(tmp_path: Path) -> None:
    factories = {name: (lambda c, name=name: create_policy(name)) for name in ("random", "least-loaded")}
    data = sweep(factories, SimConfig(), arrival_rates=[3.0, 6.0], node_counts=[3, 4], runs=2, steps=20, seed=0)
    assert len(data) == 8
    by_n = data[data["sweep"] == "n_nodes"]
    assert by_n["arrival_rate_hz"].tolist() == pytest.approx([3.6, 3.6, 4.8, 4.8])  # same load per node
    load = figures.latency_vs_load(data, tmp_path)
    nodes = figures.latency_vs_nodes(data, tmp_path)
    assert load.png.stat().st_size > 0 and len(pd.read_csv(nodes.csv)) == 4

    episodes = pd.DataFrame(
        {
            "trial": np.repeat([0, 1], 30),
            "episode": np.tile(np.arange(30), 2),
            "reward": np.random.default_rng(0).normal(-60, 5, 60),
        }
    )
    fig1 = figures.reward_pdf(episodes, tmp_path)
    fig2 = figures.reward_per_episode(episodes, tmp_path, window=5)
    fig3 = figures.training_time_by_optimizer(
        pd.DataFrame({"optimizer": ["adam", "sgd"], "seconds": [1.0, 2.0], "final_reward": [-50.0, -70.0]}), tmp_path
    )
    for files in (fig1, fig2, fig3):
        assert files.png.read_bytes()[:4] == b"\x89PNG"
    pdf = pd.read_csv(fig1.csv)
    for _, group in pdf.groupby("trial"):  # each density integrates to ~1
        assert np.trapezoid(group["density"], group["reward"]) == pytest.approx(1.0, abs=0.05)
    assert pd.read_csv(fig2.csv)["moving_avg"].notna().all()


def test_cli_compare_baselines_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        sim_app,
        ["compare", "--policy", "random", "--policy", "min-latency", "--trials", "2", "--steps", "20",
         "--rate", "4", "--rate", "8", "--out", str(tmp_path), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert {r["policy"] for r in document["results"]} == {"random", "min-latency"}
    assert len(document["results"]) == 4
    assert (tmp_path / "compare.csv").is_file()


def test_cli_refuses_unknown_policy_and_missing_model(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(sim_app, ["compare", "--policy", "nope", "--trials", "2", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown selection policy 'nope'" in bad.output
    missing = runner.invoke(sim_app, ["compare", "--policy", "ddpg", "--trials", "2", "--out", str(tmp_path)])
    assert missing.exit_code != 0
    help_text = runner.invoke(sim_app, ["compare", "--help"]).output
    assert "--trials" in help_text and "--json" in help_text


def test_cli_config_file_and_its_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "sim.yaml"
    good.write_text("sim:\n  n_nodes: 3\n  arrival_rate_hz: 2.0\n")
    result = runner.invoke(
        sim_app,
        ["compare", "--config", str(good), "--policy", "auction", "--trials", "2", "--steps", "10",
         "--out", str(tmp_path), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)["results"][0]
    assert (row["n_nodes"], row["arrival_rate_hz"]) == (3, 2.0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("sim:\n  bandwidth_hz: -1\n")
    refused = runner.invoke(sim_app, ["compare", "--config", str(bad), "--out", str(tmp_path)])
    assert refused.exit_code == 2
    assert "bandwidth_hz" in refused.output
