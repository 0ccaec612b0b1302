"""The gymnasium API contract of the environment."""

from __future__ import annotations

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from orchestrator.sim.config import SimConfig  # noqa: E402
from orchestrator.sim.env import MecSelectionEnv  # noqa: E402
from orchestrator.sim.traces import generate_trace  # noqa: E402


def test_env_passes_gymnasium_checker() -> None:
    env = MecSelectionEnv(SimConfig(n_nodes=4), steps=10)
    check_env(env, skip_render_check=True)


def test_spaces_reward_and_truncation() -> None:
    config = SimConfig(n_nodes=3)
    env = MecSelectionEnv(config, steps=5)
    assert env.observation_space.shape == (3 * 3 + 2,)
    assert env.action_space.shape == (3,)
    obs, _ = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    for step in range(5):
        obs, reward, terminated, truncated, info = env.step(np.array([0.0, 1.0, -1.0], dtype=np.float32))
        assert info["node"] == 1  # the highest score wins
        assert reward == pytest.approx(-info["latency_s"] - (config.deadline_penalty_s if info["missed"] else 0.0))
        assert not terminated and truncated == (step == 4)
    with pytest.raises(ValueError, match="3 scores"):
        env.reset(seed=1)
        env.step(np.zeros(4, dtype=np.float32))


def test_reset_replays_a_given_trace() -> None:
    config = SimConfig()
    trace = generate_trace(config, steps=8, seed=42)
    env = MecSelectionEnv(config, steps=8)
    first, _ = env.reset(options={"trace": trace})
    again, _ = env.reset(seed=999, options={"trace": trace})
    assert np.array_equal(first, again)
    a, _ = env.reset(seed=3)
    b, _ = env.reset(seed=3)
    assert np.array_equal(a, b)
