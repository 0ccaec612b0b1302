"""DDPG executor selection with action refinement (the paper's Algorithm 1), on CPU with PyTorch.

* The actor π(S|ψ) maps the state to one score per node in [-1, 1]; the executor is the node with
  the highest score. The critic Q(S, A|θ) values a state and a score vector.
* Exploration: A = π(S) + g, g ~ N(0, σ²) (eq. 6); before the warm-up γ the actions are random.
* Eq. 7: among ``refine_candidates`` actions within L2 distance δ of the actor's (and the actor's
  own), the one the critic values most is taken. The candidate offsets are drawn once from the
  seed, so selection is deterministic.
* Mini-batches from the experience deque δ: y = R + λ Q'(S', π'(S')), critic loss E[(Q - y)²]
  (eq. 11), actor ascent on Q(S, π(S)) (eq. 12), then soft updates ψ' ← κψ' + (1-κ)ψ (eq. 13).
  Episodes end by a time limit, not a terminal state, so targets always bootstrap.

Two architectures (``DdpgConfig.architecture``): ``mlp`` is the textbook one, flat state in, N
scores out, critic on [state, action]. ``per-node`` shares one small network across nodes: each
node is scored from its own features, the task and the cluster's mean and min, and the critic is
Σ_i softmax(A/T)_i q_i(S), the value of each node weighted by how strongly A picks it.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from orchestrator.errors import ConfigError
from orchestrator.policy.features import NODE_FEATURES, TASK_FEATURES, FeatureScales, observation_size
from orchestrator.sim.cluster import feature_scales
from orchestrator.sim.config import DdpgConfig, SimConfig
from orchestrator.sim.env import MecSelectionEnv
from orchestrator.sim.traces import generate_trace, trace_seeds

FORMAT = "mecfab-ddpg-policy"
FORMAT_VERSION = 1
CRITIC_TEMPERATURE = 0.05  # T of the per-node critic's softmax over scores

Obs = npt.NDArray[np.float32]


# ----------------------------------------------------------------------------- networks
def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, outputs)
    )


def _node_inputs(obs: torch.Tensor, n_nodes: int) -> torch.Tensor:
    """(B, 3N+2) → (B, N, 3+2+3+3): own features, the task, the cluster mean and min."""
    nodes = obs[:, : NODE_FEATURES * n_nodes].reshape(-1, n_nodes, NODE_FEATURES)
    task = obs[:, NODE_FEATURES * n_nodes :].unsqueeze(1).expand(-1, n_nodes, TASK_FEATURES)
    mean = nodes.mean(dim=1, keepdim=True).expand(-1, n_nodes, NODE_FEATURES)
    low = nodes.min(dim=1, keepdim=True).values.expand(-1, n_nodes, NODE_FEATURES)
    return torch.cat([nodes, task, mean, low], dim=2)


PER_NODE_INPUTS = 3 * NODE_FEATURES + TASK_FEATURES


class MlpActor(nn.Module):
    def __init__(self, n_nodes: int, hidden: int) -> None:
        super().__init__()
        self.net = _mlp(observation_size(n_nodes), hidden, n_nodes)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = torch.tanh(self.net(obs))
        return out


class MlpCritic(nn.Module):
    def __init__(self, n_nodes: int, hidden: int) -> None:
        super().__init__()
        self.net = _mlp(observation_size(n_nodes) + n_nodes, hidden, 1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(torch.cat([obs, action], dim=1)).squeeze(1)
        return out


class PerNodeActor(nn.Module):
    def __init__(self, n_nodes: int, hidden: int) -> None:
        super().__init__()
        self.n_nodes = n_nodes
        self.net = _mlp(PER_NODE_INPUTS, hidden, 1)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = torch.tanh(self.net(_node_inputs(obs, self.n_nodes)).squeeze(2))
        return out


class PerNodeCritic(nn.Module):
    def __init__(self, n_nodes: int, hidden: int) -> None:
        super().__init__()
        self.n_nodes = n_nodes
        self.net = _mlp(PER_NODE_INPUTS, hidden, 1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        values = self.net(_node_inputs(obs, self.n_nodes)).squeeze(2)
        weights = torch.softmax(action / CRITIC_TEMPERATURE, dim=1)
        out: torch.Tensor = (weights * values).sum(dim=1)
        return out


def _networks(n_nodes: int, config: DdpgConfig) -> tuple[nn.Module, nn.Module]:
    if config.architecture == "mlp":
        return MlpActor(n_nodes, config.hidden), MlpCritic(n_nodes, config.hidden)
    return PerNodeActor(n_nodes, config.hidden), PerNodeCritic(n_nodes, config.hidden)


def _optimizer(name: str, params: Any, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr)
    raise ConfigError(f"unknown optimizer {name!r}; known: adam, sgd, rmsprop, adagrad")


# ----------------------------------------------------------------------------- experience deque
@dataclass(frozen=True, eq=False)
class Batch:
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor


class ReplayDeque:
    """The experience deque δ: a bounded FIFO of (S, A, R, S') that drops the oldest when full."""

    def __init__(self, capacity: int, obs_dim: int, action_dim: int) -> None:
        self.capacity = capacity
        self._obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self._action = np.zeros((capacity, action_dim), dtype=np.float32)
        self._reward = np.zeros(capacity, dtype=np.float32)
        self._next = np.zeros((capacity, obs_dim), dtype=np.float32)
        self._head = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def append(self, obs: Obs, action: Obs, reward: float, next_obs: Obs) -> None:
        i = self._head
        self._obs[i], self._action[i], self._reward[i], self._next[i] = obs, action, reward, next_obs
        self._head = (i + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def sample(self, size: int, rng: np.random.Generator) -> Batch:
        idx = rng.integers(self._size, size=size)
        return Batch(
            obs=torch.from_numpy(self._obs[idx]),
            action=torch.from_numpy(self._action[idx]),
            reward=torch.from_numpy(self._reward[idx]),
            next_obs=torch.from_numpy(self._next[idx]),
        )


# ----------------------------------------------------------------------------- the agent
@dataclass(frozen=True)
class UpdateStats:
    critic_loss: float
    actor_loss: float


def _ball_offsets(count: int, dim: int, radius: float, rng: np.random.Generator) -> torch.Tensor:
    """``count`` points uniform in the L2 ball of ``radius`` in ``dim`` dimensions, plus the origin."""
    if count == 0 or radius == 0:
        return torch.zeros((1, dim))
    direction = rng.normal(size=(count, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    r = radius * rng.uniform(size=(count, 1)) ** (1.0 / dim)
    return torch.from_numpy(np.vstack([np.zeros((1, dim)), direction * r]).astype(np.float32))


class DdpgAgent:
    """Actor, critic, their targets, the optimizers and the experience deque for N nodes."""

    def __init__(self, n_nodes: int, config: DdpgConfig | None = None, *, seed: int = 0) -> None:
        self.config = config or DdpgConfig()
        self.n_nodes = n_nodes
        self.seed = seed
        torch.set_num_threads(self.config.threads)
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.actor, self.critic = _networks(n_nodes, self.config)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.actor_opt = _optimizer(self.config.optimizer, self.actor.parameters(), self.config.actor_lr)
        self.critic_opt = _optimizer(self.config.optimizer, self.critic.parameters(), self.config.critic_lr)
        self.replay = ReplayDeque(self.config.replay_size, observation_size(n_nodes), n_nodes)
        self.offsets = _ball_offsets(
            self.config.refine_candidates, n_nodes, self.config.refine_radius, np.random.default_rng(seed + 1)
        )

    # --- acting
    def _refine(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Eq. 7: the candidate within δ of ``action`` (shape (1, N)) with the highest Q."""
        if self.offsets.shape[0] == 1:
            return action
        candidates = (action + self.offsets).clamp(-1.0, 1.0)
        q = self.critic(obs.expand(candidates.shape[0], -1), candidates)
        return candidates[int(torch.argmax(q))].unsqueeze(0)

    def act(self, obs: Obs, *, explore: bool = False, refine: bool = True) -> Obs:
        """The score vector for ``obs``: actor, eq. 7 refinement, then Gaussian noise if exploring."""
        with torch.inference_mode():
            state = torch.from_numpy(np.asarray(obs, dtype=np.float32)).unsqueeze(0)
            action = self.actor(state)
            if refine:
                action = self._refine(state, action)
            out = action.squeeze(0).numpy().copy()
        if explore and self.config.noise_std > 0:
            out = out + self.rng.normal(0.0, self.config.noise_std, size=out.shape).astype(np.float32)
        clipped: Obs = np.clip(out, -1.0, 1.0).astype(np.float32)
        return clipped

    def random_action(self) -> Obs:
        return self.rng.uniform(-1.0, 1.0, size=self.n_nodes).astype(np.float32)

    def select(self, obs: Obs) -> int:
        """The executor index for ``obs`` (no exploration)."""
        return int(np.argmax(self.act(obs)))

    # --- learning
    def critic_loss(self, batch: Batch) -> torch.Tensor:
        with torch.no_grad():
            next_q = self.critic_target(batch.next_obs, self.actor_target(batch.next_obs))
            target = batch.reward + self.config.discount * next_q
        q = self.critic(batch.obs, batch.action)
        loss: torch.Tensor = nn.functional.mse_loss(q, target)
        return loss

    def update(self, batch: Batch) -> UpdateStats:
        """One mini-batch step: critic descent, actor ascent, then the soft target updates."""
        critic_loss = self.critic_loss(batch)
        self.critic_opt.zero_grad()
        critic_loss.backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(self.critic.parameters(), self.config.grad_clip)
        self.critic_opt.step()

        actor_loss: torch.Tensor = -self.critic(batch.obs, self.actor(batch.obs)).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()  # type: ignore[no-untyped-call]
        nn.utils.clip_grad_norm_(self.actor.parameters(), self.config.grad_clip)
        self.actor_opt.step()

        self.soft_update()
        return UpdateStats(critic_loss=float(critic_loss.detach()), actor_loss=float(actor_loss.detach()))

    def soft_update(self) -> None:
        """Eq. 13: target ← κ target + (1 - κ) online, for both networks."""
        kappa = self.config.soft_update
        with torch.no_grad():
            for target, online in ((self.actor_target, self.actor), (self.critic_target, self.critic)):
                for t_param, o_param in zip(target.parameters(), online.parameters(), strict=True):
                    t_param.mul_(kappa).add_(o_param, alpha=1.0 - kappa)


# ----------------------------------------------------------------------------- training loop
@dataclass(frozen=True)
class EpisodeStats:
    trial: int
    episode: int
    reward: float  # sum over the episode's steps
    mean_latency_s: float
    miss_rate: float
    critic_loss: float  # mean over the episode's updates (NaN before the warm-up ends)
    actor_loss: float
    seconds: float  # wall time since the trial started


@dataclass(frozen=True, eq=False)
class TrainingResult:
    agent: DdpgAgent
    scales: FeatureScales
    sim_config: SimConfig
    episodes: tuple[EpisodeStats, ...]
    seconds: float
    trial: int
    seed: int

    @property
    def optimizer(self) -> str:
        return self.agent.config.optimizer

    def final_reward(self, window: int = 50) -> float:
        """Mean episode reward over the last ``window`` episodes."""
        tail = self.episodes[-window:]
        return float(np.mean([e.reward for e in tail])) if tail else math.nan


def train(
    sim_config: SimConfig,
    ddpg_config: DdpgConfig | None = None,
    *,
    episodes: int,
    steps: int,
    seed: int = 0,
    trial: int = 0,
    on_episode: Callable[[EpisodeStats], None] | None = None,
) -> TrainingResult:
    """Algorithm 1 for ``episodes`` episodes of ``steps`` decisions each.

    Each episode replays a fresh seeded trace whose arrival rate is drawn uniformly within
    ``±rate_jitter`` (a DdpgConfig field) of the configured one, so the policy sees light and heavy load.
    """
    if episodes < 1 or steps < 1:
        raise ConfigError(f"episodes and steps must be >= 1, got episodes={episodes} steps={steps}")
    config = ddpg_config or DdpgConfig()
    rate_jitter = config.rate_jitter
    agent = DdpgAgent(sim_config.n_nodes, config, seed=seed)
    scales = feature_scales(sim_config)
    env = MecSelectionEnv(sim_config, steps=steps, scales=scales)
    rate_rng = np.random.default_rng(seed + 2)
    started = time.perf_counter()
    total_steps = 0
    history: list[EpisodeStats] = []
    for episode, trace_seed in enumerate(trace_seeds(seed, episodes)):
        rate = sim_config.arrival_rate_hz * rate_rng.uniform(1 - rate_jitter, 1 + rate_jitter)
        trace = generate_trace(sim_config.with_updates(arrival_rate_hz=rate), steps=steps, seed=trace_seed)
        obs, _ = env.reset(options={"trace": trace})
        rewards, latencies, misses = 0.0, 0.0, 0
        critic_losses: list[float] = []
        actor_losses: list[float] = []
        for _ in range(steps):
            warming_up = total_steps < config.warmup_steps
            action = agent.random_action() if warming_up else agent.act(obs, explore=True)
            next_obs, reward, _, _, info = env.step(action)
            agent.replay.append(obs, action, float(reward), next_obs)
            obs = next_obs
            total_steps += 1
            rewards += float(reward)
            latencies += float(info["latency_s"])
            misses += int(info["missed"])
            if total_steps > config.warmup_steps and total_steps % config.update_every == 0:
                stats = agent.update(agent.replay.sample(config.batch_size, agent.rng))
                critic_losses.append(stats.critic_loss)
                actor_losses.append(stats.actor_loss)
        record = EpisodeStats(
            trial=trial,
            episode=episode,
            reward=rewards,
            mean_latency_s=latencies / steps,
            miss_rate=misses / steps,
            critic_loss=float(np.mean(critic_losses)) if critic_losses else math.nan,
            actor_loss=float(np.mean(actor_losses)) if actor_losses else math.nan,
            seconds=time.perf_counter() - started,
        )
        history.append(record)
        if on_episode is not None:
            on_episode(record)
    return TrainingResult(
        agent=agent,
        scales=scales,
        sim_config=sim_config,
        episodes=tuple(history),
        seconds=time.perf_counter() - started,
        trial=trial,
        seed=seed,
    )


# ----------------------------------------------------------------------------- save and load
def save_policy(result: TrainingResult, path: Path) -> Path:
    """Write the trained actor and critic with everything needed to check and use them later."""
    agent = result.agent
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "n_nodes": agent.n_nodes,
        "observation_size": observation_size(agent.n_nodes),
        "seed": agent.seed,
        "ddpg_config": agent.config.model_dump(),
        "sim_config": result.sim_config.model_dump(),
        "scales": result.scales.to_dict(),
        "actor": agent.actor.state_dict(),
        "critic": agent.critic.state_dict(),
        "final_reward": result.final_reward(),
        "training_seconds": result.seconds,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
    return path


@dataclass(frozen=True, eq=False)
class LoadedPolicy:
    agent: DdpgAgent
    scales: FeatureScales
    sim_config: SimConfig
    path: Path


def load_policy(path: Path, *, n_nodes: int | None = None) -> LoadedPolicy:
    """Read a policy file; refuse another format, another format version, or another N."""
    if not path.is_file():
        raise ConfigError(f"policy file {path} does not exist (train one with `mecfab sim train`)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a foreign or damaged file
        raise ConfigError(f"{path} is not a mecfab DDPG policy file ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a mecfab DDPG policy file")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise ConfigError(
            f"policy file {path} has format version {version}, this mecfab reads version "
            f"{FORMAT_VERSION}; retrain it with `mecfab sim train`"
        )
    trained_n = int(payload["n_nodes"])
    if n_nodes is not None and trained_n != n_nodes:
        raise ConfigError(
            f"policy file {path} was trained for N={trained_n} nodes, but the cluster has N={n_nodes}; "
            "train a policy for this cluster size"
        )
    config = DdpgConfig.model_validate(payload["ddpg_config"])
    agent = DdpgAgent(trained_n, config, seed=int(payload["seed"]))
    agent.actor.load_state_dict(payload["actor"])
    agent.critic.load_state_dict(payload["critic"])
    agent.actor.eval()
    agent.critic.eval()
    return LoadedPolicy(
        agent=agent,
        scales=FeatureScales(**payload["scales"]),
        sim_config=SimConfig.model_validate(payload["sim_config"]),
        path=path,
    )
