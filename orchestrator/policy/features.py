"""The learning agent's state vector: per-node load, capacity and link quality, plus the task.

Layout (length ``NODE_FEATURES * N + TASK_FEATURES``)::

    [load_0, capacity_0, link_0, load_1, capacity_1, link_1, ..., task_cycles, task_bits]

* load: seconds of work queued at the node (backlog / ι), over ``latency_s``
* capacity: ι over ``capacity_hz``
* link quality: the node's eq. 5 consensus latency as leader, over ``latency_s``
* the task: its CPU demand over ``cycles`` and its data |Z| K over ``bits``

Every entry is clipped to ``[0, clip]``. The scales travel with a saved policy so that a live
deployment encodes measurements exactly as training did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from orchestrator.policy.base import ClusterView, TaskSpec
from orchestrator.policy.estimate import view_consensus_s

NODE_FEATURES = 3
TASK_FEATURES = 2


@dataclass(frozen=True)
class FeatureScales:
    """Divisors that bring each feature near [0, 1]."""

    latency_s: float = 2.0
    capacity_hz: float = 4.0e9
    cycles: float = 2.0e9
    bits: float = 2.0e7
    clip: float = 10.0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def observation_size(n_nodes: int) -> int:
    return NODE_FEATURES * n_nodes + TASK_FEATURES


def encode(view: ClusterView, task: TaskSpec, scales: FeatureScales) -> npt.NDArray[np.float32]:
    """The state vector of ``view`` and ``task`` (float32, see the module doc for the layout)."""
    capacity = np.asarray(view.capacity_hz, dtype=np.float64)
    load = np.asarray(view.backlog_cycles, dtype=np.float64) / capacity / scales.latency_s
    link = view_consensus_s(view) / scales.latency_s
    nodes = np.stack([load, capacity / scales.capacity_hz, link], axis=1).reshape(-1)
    obs = np.concatenate([nodes, [task.cycles / scales.cycles, task.bits / scales.bits]])
    encoded: npt.NDArray[np.float32] = np.clip(obs, 0.0, scales.clip).astype(np.float32)
    return encoded
