"""Selection policies: which edge node executes a task.

The interface (:class:`SelectionPolicy`, :class:`ClusterView`, :class:`TaskSpec`) lives in
``base``; baselines in ``baselines``; the learned DDPG policy in ``ddpg`` (needs torch, imported
only when that policy is created); ``create_policy(name)`` picks one by name.
"""

from orchestrator.policy.base import ClusterView, SelectionPolicy, TaskSpec
from orchestrator.policy.registry import (
    BASELINES,
    PolicyOptions,
    available_policies,
    create_policy,
    register_policy,
)

__all__ = [
    "BASELINES",
    "ClusterView",
    "PolicyOptions",
    "SelectionPolicy",
    "TaskSpec",
    "available_policies",
    "create_policy",
    "register_policy",
]
