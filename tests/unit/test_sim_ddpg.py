"""The DDPG agent (Algorithm 1): update step, soft update, refinement, save/load, selection time, CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gymnasium")

from typer.testing import CliRunner  # noqa: E402

from orchestrator.errors import ConfigError  # noqa: E402
from orchestrator.policy import PolicyOptions, create_policy  # noqa: E402
from orchestrator.policy.ddpg import DdpgPolicy  # noqa: E402
from orchestrator.sim.cluster import ClusterSimulator  # noqa: E402
from orchestrator.sim.config import DdpgConfig, SimConfig  # noqa: E402
from orchestrator.sim.ddpg import (  # noqa: E402
    FORMAT_VERSION,
    Batch,
    DdpgAgent,
    ReplayDeque,
    TrainingResult,
    load_policy,
    save_policy,
    train,
)
from orchestrator.sim.traces import generate_trace  # noqa: E402
from orchestrator.sim_cli import sim_app  # noqa: E402

TINY = DdpgConfig(hidden=16, batch_size=16, warmup_steps=10, update_every=1, replay_size=500, refine_candidates=8)


def _batch(n_nodes: int, size: int = 32, seed: int = 0) -> Batch:
    rng = np.random.default_rng(seed)
    obs_dim = 3 * n_nodes + 2
    return Batch(
        obs=torch.from_numpy(rng.uniform(0, 1, (size, obs_dim)).astype(np.float32)),
        action=torch.from_numpy(rng.uniform(-1, 1, (size, n_nodes)).astype(np.float32)),
        reward=torch.from_numpy(rng.uniform(-2, 0, size).astype(np.float32)),
        next_obs=torch.from_numpy(rng.uniform(0, 1, (size, obs_dim)).astype(np.float32)),
    )


@pytest.fixture(scope="module")
def trained() -> TrainingResult:
    return train(SimConfig(n_nodes=3), TINY, episodes=3, steps=15, seed=4)


@pytest.mark.parametrize("architecture", ["per-node", "mlp"])
def test_critic_loss_decreases_on_a_fixed_batch(architecture: str) -> None:
    agent = DdpgAgent(4, TINY.with_updates(architecture=architecture, critic_lr=3e-3), seed=0)
    batch = _batch(4)
    before = float(agent.critic_loss(batch).detach())
    for _ in range(60):
        agent.update(batch)
    assert float(agent.critic_loss(batch).detach()) < 0.5 * before


def test_soft_update_keeps_kappa_of_the_target() -> None:
    agent = DdpgAgent(3, TINY.with_updates(soft_update=0.75), seed=0)
    online = next(agent.critic.parameters())
    target = next(agent.critic_target.parameters())
    with torch.no_grad():
        online.fill_(1.0)
        target.fill_(0.0)
    agent.soft_update()
    assert torch.allclose(target, torch.full_like(target, 0.25))


def test_refinement_never_lowers_the_critic_value() -> None:
    agent = DdpgAgent(5, TINY.with_updates(refine_candidates=32, refine_radius=0.5), seed=1)
    obs = np.random.default_rng(0).uniform(0, 1, 17).astype(np.float32)
    state = torch.from_numpy(obs).unsqueeze(0)
    with torch.no_grad():
        plain = agent.actor(state)
        refined = agent._refine(state, plain)
        assert float(agent.critic(state, refined)) >= float(agent.critic(state, plain)) - 1e-6
        assert float(torch.linalg.vector_norm(refined - plain)) <= 0.5 + 1e-5
    assert np.array_equal(agent.act(obs), agent.act(obs))  # deterministic without exploration


def test_replay_deque_drops_the_oldest() -> None:
    deque = ReplayDeque(3, obs_dim=2, action_dim=1)
    for i in range(5):
        deque.append(np.full(2, i, np.float32), np.zeros(1, np.float32), float(i), np.zeros(2, np.float32))
    assert len(deque) == 3
    batch = deque.sample(50, np.random.default_rng(0))
    assert set(batch.reward.tolist()) == {2.0, 3.0, 4.0}


def test_training_is_seeded(trained: TrainingResult) -> None:
    again = train(SimConfig(n_nodes=3), TINY, episodes=3, steps=15, seed=4)
    assert [e.reward for e in again.episodes] == [e.reward for e in trained.episodes]
    assert len(trained.episodes) == 3 and not np.isnan(trained.episodes[-1].critic_loss)


def test_save_load_round_trip(tmp_path: Path, trained: TrainingResult) -> None:
    path = save_policy(trained, tmp_path / "p.pt")
    loaded = load_policy(path, n_nodes=3)
    obs = np.random.default_rng(2).uniform(0, 1, 11).astype(np.float32)
    assert np.array_equal(loaded.agent.act(obs), trained.agent.act(obs))
    assert loaded.scales == trained.scales and loaded.sim_config == trained.sim_config
    policy = create_policy("ddpg", PolicyOptions(model_path=path, n_nodes=3))
    sim = ClusterSimulator(SimConfig(n_nodes=3), generate_trace(SimConfig(n_nodes=3), steps=5, seed=0))
    assert 0 <= policy.select(sim.view(), sim.task()) < 3


def test_load_refuses_another_n_version_or_file(tmp_path: Path, trained: TrainingResult) -> None:
    path = save_policy(trained, tmp_path / "p.pt")
    with pytest.raises(ConfigError, match=r"trained for N=3 nodes, but the cluster has N=5"):
        load_policy(path, n_nodes=5)
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = FORMAT_VERSION + 1
    old = tmp_path / "old.pt"
    torch.save(payload, old)
    with pytest.raises(ConfigError, match="format version"):
        load_policy(old)
    junk = tmp_path / "junk.pt"
    junk.write_text("not a policy")
    with pytest.raises(ConfigError, match="not a mecfab DDPG policy file"):
        load_policy(junk)
    with pytest.raises(ConfigError, match="does not exist"):
        load_policy(tmp_path / "missing.pt")
    policy = DdpgPolicy.load(path)
    sim = ClusterSimulator(SimConfig(n_nodes=4), generate_trace(SimConfig(n_nodes=4), steps=2, seed=0))
    with pytest.raises(ConfigError, match="N=3"):
        policy.select(sim.view(), sim.task())


def test_selection_takes_under_a_millisecond(tmp_path: Path) -> None:
    config = SimConfig()
    result = train(config, DdpgConfig(warmup_steps=5, batch_size=8), episodes=1, steps=10, seed=0)
    policy = DdpgPolicy.load(save_policy(result, tmp_path / "p.pt"), n_nodes=5)
    sim = ClusterSimulator(config, generate_trace(config, steps=5, seed=1))
    view, task = sim.view(), sim.task()
    for _ in range(20):
        policy.select(view, task)
    timings = []
    for _ in range(200):
        started = time.perf_counter()
        policy.select(view, task)
        timings.append(time.perf_counter() - started)
    assert float(np.median(timings)) < 1.0e-3


def test_cli_train_then_compare(tmp_path: Path) -> None:
    runner = CliRunner()
    trained = runner.invoke(
        sim_app,
        ["train", "--out", str(tmp_path), "--trials", "2", "--episodes", "2", "--steps", "10", "--nodes", "3",
         "--json"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    document = json.loads(trained.output)
    assert len(document["trials"]) == 2
    for name in ("ddpg_policy_n3.pt", "fig1_reward_pdf.png", "fig2_reward_per_episode.csv", "run.json"):
        assert (tmp_path / name).is_file(), name
    compared = runner.invoke(
        sim_app,
        ["compare", "--out", str(tmp_path), "--nodes", "3", "--trials", "2", "--steps", "10", "--json"],
    )
    assert compared.exit_code == 0, compared.output
    assert "ddpg" in {r["policy"] for r in json.loads(compared.output)["results"]}
    wrong_n = runner.invoke(
        sim_app,
        ["compare", "--model", str(tmp_path / "ddpg_policy_n3.pt"), "--nodes", "4", "--trials", "2",
         "--steps", "5", "--out", str(tmp_path)],
    )  # fmt: skip
    assert wrong_n.exit_code == 2 and "trained for N=3" in wrong_n.output
