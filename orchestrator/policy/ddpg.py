"""The learned DDPG policy behind the selection interface. Importing this module imports torch."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from orchestrator.errors import ConfigError
from orchestrator.policy.base import ClusterView, SelectionPolicy, TaskSpec
from orchestrator.policy.features import FeatureScales, encode
from orchestrator.sim.ddpg import DdpgAgent, load_policy


class DdpgPolicy(SelectionPolicy):
    """Scores nodes with a trained actor, refines the scores with the critic (eq. 7), picks the best."""

    name: ClassVar[str] = "ddpg"

    def __init__(self, agent: DdpgAgent, scales: FeatureScales, *, refine: bool = True) -> None:
        self.agent = agent
        self.scales = scales
        self.refine = refine

    @classmethod
    def load(cls, path: Path, *, n_nodes: int | None = None) -> DdpgPolicy:
        """Load a file written by ``mecfab sim train``; refuse another N, format or version."""
        loaded = load_policy(path, n_nodes=n_nodes)
        return cls(loaded.agent, loaded.scales)

    @property
    def n_nodes(self) -> int:
        return self.agent.n_nodes

    def select(self, view: ClusterView, task: TaskSpec) -> int:
        if view.n_nodes != self.agent.n_nodes:
            raise ConfigError(
                f"the DDPG policy was trained for N={self.agent.n_nodes} nodes, the view has N={view.n_nodes}"
            )
        scores = self.agent.act(encode(view, task, self.scales), refine=self.refine)
        return int(scores.argmax())
