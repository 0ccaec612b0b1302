"""The cloud monitor: samples the edges (``sampler``), turns measurements into the policies' view
and a shortlist (``view``), and plays the Cloud's part of the workflow (``monitor``)."""

from orchestrator.monitor.monitor import CloudMonitor, MonitorSettings, MonitorSnapshot, TaskState
from orchestrator.monitor.sampler import EdgeSample, EdgeSampler
from orchestrator.monitor.view import cluster_view, rank, task_spec

__all__ = [
    "CloudMonitor",
    "EdgeSample",
    "EdgeSampler",
    "MonitorSettings",
    "MonitorSnapshot",
    "TaskState",
    "cluster_view",
    "rank",
    "task_spec",
]
