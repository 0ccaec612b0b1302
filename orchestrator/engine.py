"""Docker control: the engine, the compose project, images, ports. Never renders files."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.errors import DockerException, ImageNotFound

from orchestrator.errors import EnvironmentProblem, NetworkError

log = logging.getLogger(__name__)


def connect() -> Any:
    """A docker-py client to an engine that answers, or a clear error."""
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except DockerException as exc:
        raise EnvironmentProblem(
            f"Docker does not answer ({exc.__class__.__name__}): run 'make setup' to install and start it"
        ) from None
    return client


def missing_images(client: Any, names: Iterable[str]) -> list[str]:
    missing = []
    for name in names:
        try:
            client.images.get(name)
        except ImageNotFound:
            missing.append(name)
    return missing


def busy_ports(host: str, ports: Iterable[int]) -> list[int]:
    """Ports on ``host`` that something already listens on."""
    busy = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                busy.append(port)
    return busy


@dataclass(frozen=True)
class Compose:
    """``docker compose`` for one project and file."""

    project: str
    file: Path
    env: Mapping[str, str]

    def _run(self, *args: str, timeout: float = 300) -> str:
        if shutil.which("docker") is None:
            raise EnvironmentProblem("the docker CLI is not installed: run 'make setup'")
        cmd = ["docker", "compose", "-p", self.project, "-f", str(self.file), *args]
        log.debug("run %s", " ".join(cmd))
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **self.env}, check=False
            )
        except subprocess.TimeoutExpired:
            raise NetworkError(f"'docker compose {args[0]}' did not finish within {timeout:.0f} s") from None
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            if "is not a docker command" in proc.stderr or "unknown command" in proc.stderr:
                raise EnvironmentProblem("Docker Compose v2 is missing: run 'make setup' to build it")
            raise NetworkError(f"'docker compose {args[0]}' failed: {detail[-1] if detail else proc.returncode}")
        return proc.stdout

    def up(self, services: Iterable[str] = ()) -> None:
        self._run("up", "-d", "--no-build", "--pull", "never", "--remove-orphans", *services)

    def down(self) -> None:
        self._run("down", "--volumes", "--remove-orphans", "--timeout", "5")

    def running_services(self) -> set[str]:
        out = self._run("ps", "--services", "--status", "running")
        return {line.strip() for line in out.splitlines() if line.strip()}


def project_containers(client: Any, project: str) -> list[Any]:
    return list(client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}))


def remove_project(client: Any, project: str) -> int:
    """Remove a compose project's containers, networks and volumes by label (no compose file
    needed); returns how many objects were removed."""
    label = {"label": f"com.docker.compose.project={project}"}
    removed = 0
    for container in project_containers(client, project):
        container.remove(force=True, v=True)
        removed += 1
    for network in client.networks.list(filters=label):
        network.remove()
        removed += 1
    for volume in client.volumes.list(filters=label):
        volume.remove(force=True)
        removed += 1
    return removed


class StatsStream(threading.Thread):
    """Follows one container's ``docker stats`` stream and keeps the newest sample (a one-shot
    stats call takes about a second per container; the stream costs nothing between ticks)."""

    def __init__(self, container: Any) -> None:
        super().__init__(name=f"stats-{container.name}", daemon=True)
        self.container = container
        self.latest: dict[str, Any] | None = None
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            for sample in self.container.stats(stream=True, decode=True):
                if self.stopping.is_set():
                    return
                self.latest = sample
        except Exception as exc:  # the container went away, or the engine hung up
            log.debug("stats stream of %s ended: %s", self.container.name, exc)
