"""orchestrator.swarm without Docker: the swarm-manager check, waiting for tasks, pending reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator import swarm
from orchestrator.errors import ConfigError, EnvironmentProblem, NetworkError
from orchestrator.network import NetworkSpec, render
from orchestrator.topology import load_topology


class _Client:
    def __init__(self, state: str, manager: bool, services: list[_Service] | None = None) -> None:
        self._info = {"Swarm": {"LocalNodeState": state, "ControlAvailable": manager}}
        self.services = _Services(services or [])

    def info(self) -> dict[str, Any]:
        return self._info


class _Service:
    def __init__(self, name: str, tasks: list[dict[str, Any]]) -> None:
        self.name, self._tasks = name, tasks

    def tasks(self, filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return self._tasks


class _Services:
    def __init__(self, services: list[_Service]) -> None:
        self._services = services

    def list(self, filters: dict[str, str] | None = None) -> list[_Service]:
        return self._services


def _task(state: str, err: str = "", desired: str = "running", at: str = "2026-01-01") -> dict[str, Any]:
    return {"Status": {"State": state, "Err": err}, "DesiredState": desired, "UpdatedAt": at}


def test_only_a_swarm_manager_may_deploy() -> None:
    with pytest.raises(ConfigError) as err:
        swarm.require_manager(_Client("inactive", False))
    assert str(err.value) == "swarm not initialised: run docker swarm init" and err.value.exit_code == 2
    with pytest.raises(ConfigError, match="swarm worker"):
        swarm.require_manager(_Client("active", False))
    swarm.require_manager(_Client("active", True))


def test_wait_running_returns_when_every_service_runs_a_task() -> None:
    client = _Client("active", True, [_Service("p_a", [_task("running")]), _Service("p_b", [_task("running")])])
    swarm.wait_running(client, "p", 2, timeout=1)


def test_a_missing_image_fails_at_once_and_names_the_remedy() -> None:
    client = _Client("active", True, [_Service("p_a", [_task("rejected", "No such image: mecfab/x:1")])])
    with pytest.raises(EnvironmentProblem, match=r"No such image.*docker save"):
        swarm.wait_running(client, "p", 1, timeout=30)


def test_pending_services_are_grouped_by_reason_with_a_placement_hint() -> None:
    reason = "no suitable node (scheduling constraints not satisfied on 1 node)"
    client = _Client(
        "active", True, [_Service("p_b", [_task("pending", reason)]), _Service("p_a", [_task("pending", reason)])]
    )
    with pytest.raises(NetworkError) as err:
        swarm.wait_running(client, "p", 2, timeout=0)
    assert f"a, b (pending: {reason})" in str(err.value)
    assert "docker node update --label-add mecfab.org=<org>" in str(err.value)


def test_render_of_the_swarm_target_writes_the_stack_file_not_a_compose_file(tmp_path: Path) -> None:
    spec = NetworkSpec.isolated(tmp_path, project="p", topology=load_topology(), target="swarm")
    paths = render(spec)
    assert spec.stack_file in paths and spec.stack_file.exists()
    assert not spec.compose_file.exists()
