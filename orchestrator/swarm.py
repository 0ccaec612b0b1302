"""Docker Swarm target: the engine's swarm role, ``docker stack deploy`` and ``docker stack rm`` of a
network's stack (rendered by ``orchestrator.render.swarm``). What follows the containers (channel,
chaincode, readiness) is ``orchestrator.network.configure``, the same as for compose."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator import engine
from orchestrator.errors import ConfigError, EnvironmentProblem, NetworkError
from orchestrator.render.swarm import service_name

if TYPE_CHECKING:
    from orchestrator.network import NetworkSpec

log = logging.getLogger(__name__)
STACK_LABEL = "com.docker.stack.namespace"
NOT_INITIALISED = "swarm not initialised: run docker swarm init"


def _quiet(_: str) -> None:
    return None


def swarm_state(client: Any) -> tuple[bool, bool]:
    """(this engine is in a swarm, it is a manager)."""
    info = client.info().get("Swarm") or {}
    return info.get("LocalNodeState") == "active", bool(info.get("ControlAvailable"))


def require_manager(client: Any) -> None:
    """A clear error (exit code 2) unless this engine is a swarm manager."""
    active, manager = swarm_state(client)
    if not active:
        raise ConfigError(NOT_INITIALISED)
    if not manager:
        raise ConfigError("this engine is a swarm worker: run mecfab on a swarm manager node")


def _docker(args: list[str], *, cwd: str | None = None, env: dict[str, str] | None = None, timeout: float = 300) -> str:
    if shutil.which("docker") is None:
        raise EnvironmentProblem("the docker CLI is not installed: run 'make setup'")
    log.debug("run docker %s", " ".join(args))
    try:
        proc = subprocess.run(
            ["docker", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise NetworkError(f"'docker {' '.join(args[:2])}' did not finish within {timeout:.0f} s") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise NetworkError(f"'docker {' '.join(args[:2])}' failed: {lines[-1] if lines else proc.returncode}")
    log.debug("docker %s: %s%s", args[0], proc.stdout, proc.stderr)
    return proc.stdout


def _label(project: str) -> dict[str, str]:
    return {"label": f"{STACK_LABEL}={project}"}


def stack_services(client: Any, project: str) -> list[Any]:
    return list(client.services.list(filters=_label(project)))


def _task_states(service: Any) -> list[dict[str, Any]]:
    """The service's tasks that should be running, newest first."""
    tasks = service.tasks(filters={"desired-state": "running"})
    return sorted(tasks, key=lambda t: t.get("UpdatedAt", ""), reverse=True)


def container_states(client: Any, project: str, hosts: list[str]) -> dict[str, str]:
    """State of each node's task (``running``, ``pending``, ...) by host name: from the swarm's
    tasks, so nodes on other hosts count too."""
    by_service = {f"{project}_{service_name(h)}": h for h in hosts}
    states: dict[str, str] = {}
    if not swarm_state(client)[1]:
        return states  # no swarm (or a worker): no tasks to report
    for service in stack_services(client, project):
        host = by_service.get(service.name)
        tasks = _task_states(service)
        if host and tasks:
            states[host] = tasks[0]["Status"]["State"]
    return states


def _ports(spec: NetworkSpec) -> list[int]:
    t = spec.topology
    return [p for n in t.nodes for p in (n.host_port, n.operations_port)] + [n.admin_port for n in t.orderers_nodes]


def deploy(spec: NetworkSpec, *, progress: Callable[[str], None] = _quiet, timeout: float = 180) -> None:
    """``docker stack deploy`` of the rendered stack file; returns when every service's task runs."""
    client = engine.connect()
    require_manager(client)
    t = spec.topology
    if not stack_services(client, spec.project) and len(client.nodes.list()) == 1:
        # one node: every port is published here (host mode: on every interface). With more nodes a
        # port taken on the node a task lands on shows up as that task's error.
        busy = engine.busy_ports("0.0.0.0", _ports(spec))
        if busy:
            raise EnvironmentProblem(
                f"host port(s) {', '.join(map(str, busy))} already in use: stop what holds them "
                f"or set ports.base in the topology (now {t.ports.base})"
            )
    progress(f"deploying stack {spec.project!r}: {len(t.nodes)} Fabric nodes and {len(t.peer_nodes)} chaincode servers")
    _docker(
        ["stack", "deploy", "--resolve-image", "never", "--prune", "-c", spec.stack_file.name, spec.project],
        cwd=str(spec.stack_file.parent),
        env={"FABRIC_VERSION": spec.fabric_version},
    )
    expected = len(t.nodes) + len(t.peer_nodes)
    progress(f"waiting for {expected} swarm services to run a task")
    wait_running(client, spec.project, expected, timeout=timeout)


def wait_running(client: Any, project: str, expected: int, *, timeout: float) -> None:
    """Every service of the stack runs a task. A task the engine rejects for a missing image fails
    at once (a node of a multi-host swarm without the images)."""
    deadline = time.monotonic() + timeout
    pending: list[tuple[str, str]] = []
    while True:
        services = stack_services(client, project)
        pending = []
        for service in services:
            tasks = service.tasks()
            current = sorted(tasks, key=lambda t: t.get("UpdatedAt", ""), reverse=True)
            running = any(
                task["Status"]["State"] == "running" and task["DesiredState"] == "running" for task in current
            )
            if running:
                continue
            latest = current[0]["Status"] if current else {}
            err = latest.get("Err", "")
            if "No such image" in err:
                raise EnvironmentProblem(
                    f"service {service.name}: {err} on a swarm node: load the images on every node "
                    "(docker save | docker load) or push them to a registry"
                )
            pending.append((service.name.removeprefix(f"{project}_"), f"{latest.get('State', 'no task')}: {err}"))
        if len(services) >= expected and not pending:
            return
        if time.monotonic() > deadline:
            raise NetworkError(f"timed out after {timeout:.0f} s waiting for the stack's services: " + _why(pending))
        time.sleep(0.5)


def _why(pending: list[tuple[str, str]]) -> str:
    """Pending services grouped by reason, with a hint for unsatisfied placement constraints."""
    if not pending:
        return "services missing"
    reasons: dict[str, list[str]] = {}
    for name, reason in pending:
        reasons.setdefault(reason.rstrip(": "), []).append(name)
    text = "; ".join(f"{', '.join(sorted(names))} ({reason})" for reason, names in sorted(reasons.items()))
    if "constraints not satisfied" in text:
        text += "; label a node per org: docker node update --label-add mecfab.org=<org> <node>"
    return text


def remove(client: Any, project: str, *, progress: Callable[[str], None] = _quiet, timeout: float = 120) -> None:
    """``docker stack rm``, then wait until the stack's containers and network are gone here, and
    remove its volumes (on this node: volumes on other swarm nodes stay, see README)."""
    label = _label(project)
    active, manager = swarm_state(client)
    if active and manager:
        leftovers = (
            stack_services(client, project)
            or client.configs.list(filters=label)
            or client.secrets.list(filters=label)
            or client.networks.list(filters=label)
        )
        if leftovers:
            progress(f"removing stack {project!r} (services, network, configs, secrets)")
            _docker(["stack", "rm", project])
    elif active:
        raise ConfigError("this engine is a swarm worker: run 'network down' on a swarm manager node")
    deadline = time.monotonic() + timeout
    while client.containers.list(all=True, filters=label, ignore_removed=True):
        if time.monotonic() > deadline:
            raise NetworkError(f"timed out after {timeout:.0f} s waiting for the containers of stack {project!r}")
        time.sleep(0.5)
    while True:  # the network goes once its last endpoint is released
        networks = client.networks.list(filters=label)
        if not networks:
            break
        for network in networks:
            try:
                network.remove()
            except Exception as exc:  # still releasing its endpoints
                log.debug("network %s not removed yet: %s", network.name, exc)
        if time.monotonic() > deadline:
            raise NetworkError(f"timed out after {timeout:.0f} s waiting for the network of stack {project!r}")
        time.sleep(0.5)
    if active and manager:  # stack rm removes them; whatever an interrupted deploy left goes too
        for obj in [*client.configs.list(filters=label), *client.secrets.list(filters=label)]:
            obj.remove()
    volumes = client.volumes.list(filters=label)
    for volume in volumes:
        volume.remove(force=True)
    if volumes:
        progress(f"removed {len(volumes)} volumes of stack {project!r}")
