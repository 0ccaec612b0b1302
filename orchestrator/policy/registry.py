"""Selection policies by name, so a YAML file or a CLI option can pick one.

>>> policy = create_policy("least-loaded")
>>> register_policy("mine", lambda options: MyPolicy(seed=options.seed))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import ConfigError
from orchestrator.policy.base import SelectionPolicy
from orchestrator.policy.baselines import (
    AuctionPolicy,
    LeastLoadedPolicy,
    MinLatencyPolicy,
    RandomPolicy,
    RoundRobinPolicy,
)


@dataclass(frozen=True)
class PolicyOptions:
    """What a factory may use: a seed for random policies, a file for learned ones."""

    seed: int = 0
    model_path: Path | None = None
    n_nodes: int | None = None  # when set, a learned policy must have been trained for this N


PolicyFactory = Callable[[PolicyOptions], SelectionPolicy]


def _ddpg(options: PolicyOptions) -> SelectionPolicy:
    if options.model_path is None:
        raise ConfigError("policy 'ddpg' needs a trained policy file (train one with `mecfab sim train`)")
    from orchestrator.policy.ddpg import DdpgPolicy  # torch is imported only here

    return DdpgPolicy.load(options.model_path, n_nodes=options.n_nodes)


_REGISTRY: dict[str, PolicyFactory] = {
    "random": lambda o: RandomPolicy(seed=o.seed),
    "round-robin": lambda o: RoundRobinPolicy(),
    "least-loaded": lambda o: LeastLoadedPolicy(),
    "min-latency": lambda o: MinLatencyPolicy(),
    "auction": lambda o: AuctionPolicy(),
    "ddpg": _ddpg,
}

BASELINES: tuple[str, ...] = ("random", "round-robin", "least-loaded", "min-latency", "auction")


def register_policy(name: str, factory: PolicyFactory, *, replace: bool = False) -> None:
    """Make ``factory`` available as ``name``."""
    if name in _REGISTRY and not replace:
        raise ConfigError(f"selection policy {name!r} is already registered")
    _REGISTRY[name] = factory


def available_policies() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def create_policy(name: str, options: PolicyOptions | None = None) -> SelectionPolicy:
    """A new policy instance by name; unknown names raise ConfigError listing the known ones."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown selection policy {name!r}; known: {', '.join(available_policies())}") from None
    return factory(options or PolicyOptions())
