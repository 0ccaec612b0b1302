"""The gymnasium environment: one decision per arriving task, N continuous scores per action.

* observation: per-node load, capacity and link quality plus the task (see
  :mod:`orchestrator.policy.features`), float32 in ``[0, clip]``
* action: one score in [-1, 1] per node; the task goes to the highest-scored node
* reward: minus the task's total latency in seconds, minus ``deadline_penalty_s`` on a miss
* an episode is ``steps`` tasks of one seeded trace and ends truncated (a time limit)

``reset(options={"trace": trace})`` replays a given :class:`~orchestrator.sim.traces.Trace`;
otherwise a trace is drawn from the environment's seeded generator.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from gymnasium import spaces

from orchestrator.policy.features import FeatureScales, encode, observation_size
from orchestrator.sim.cluster import ClusterSimulator, feature_scales
from orchestrator.sim.config import SimConfig
from orchestrator.sim.traces import Trace, generate_trace

Obs = npt.NDArray[np.float32]


class MecSelectionEnv(gym.Env[Obs, Obs]):
    """Executor selection in an N-node MEC cluster under the section IV latency model."""

    metadata = {"render_modes": []}  # noqa: RUF012 - gymnasium's class attribute

    def __init__(self, config: SimConfig | None = None, *, steps: int = 100, scales: FeatureScales | None = None):
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.config = config or SimConfig()
        self.steps = steps
        self.scales = scales or feature_scales(self.config)
        n = self.config.n_nodes
        self.observation_space = spaces.Box(
            low=0.0, high=self.scales.clip, shape=(observation_size(n),), dtype=np.float32
        )
        self.action_space = spaces.Box(low=-1.0, high=1.0, shape=(n,), dtype=np.float32)
        self._sim: ClusterSimulator | None = None

    @property
    def simulator(self) -> ClusterSimulator:
        if self._sim is None:
            raise RuntimeError("call reset() first")
        return self._sim

    def _obs(self) -> Obs:
        sim = self.simulator
        return encode(sim.view(), sim.task(), self.scales)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Obs, dict[str, Any]]:
        super().reset(seed=seed)
        trace = (options or {}).get("trace")
        if trace is None:
            trace_seed = int(self.np_random.integers(2**31 - 1))
            trace = generate_trace(self.config, steps=self.steps, seed=trace_seed)
        elif not isinstance(trace, Trace):
            raise TypeError(f"options['trace'] must be a Trace, got {type(trace).__name__}")
        elif trace.steps < self.steps:
            raise ValueError(f"trace has {trace.steps} steps, the environment needs {self.steps}")
        self._sim = ClusterSimulator(self.config, trace)
        return self._obs(), {"trace_seed": trace.seed}

    def step(self, action: Obs) -> tuple[Obs, SupportsFloat, bool, bool, dict[str, Any]]:
        sim = self.simulator
        scores = np.asarray(action, dtype=np.float64).reshape(-1)
        if scores.shape != (self.config.n_nodes,):
            raise ValueError(f"action must hold {self.config.n_nodes} scores, got shape {scores.shape}")
        record = sim.assign(int(np.argmax(np.nan_to_num(scores, nan=-np.inf))))
        truncated = sim.t >= self.steps
        return self._obs(), record.reward, False, truncated, asdict(record)
