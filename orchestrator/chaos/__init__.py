"""Fault injection under load (issue 7): faults by name, a scenario runner, and the invariants."""

from orchestrator.chaos.faults import FAULTS, Fault
from orchestrator.chaos.scenario import ScenarioResult, run_scenario

__all__ = ["FAULTS", "Fault", "ScenarioResult", "run_scenario"]
