"""The live run: the seeded workload (``workload``), the agents as containers (``fleet``), the run
driver and its results folder (``runner``), per-task records (``records``), the per-stage summary
(``summary``) and the mobility and fault scenarios (``demos``)."""

from orchestrator.workflow.runner import RunConfig, RunOutcome, Session, run_many, run_tasks
from orchestrator.workflow.workload import PlannedTask, WorkloadConfig, generate, parse_workload

__all__ = [
    "PlannedTask",
    "RunConfig",
    "RunOutcome",
    "Session",
    "WorkloadConfig",
    "generate",
    "parse_workload",
    "run_many",
    "run_tasks",
]
