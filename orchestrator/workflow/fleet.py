"""The edge agents of a network as containers: start (compose profile ``agents``), check, kill, stop."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orchestrator import engine
from orchestrator.agent.http import AgentClient
from orchestrator.agent_secret import ensure_secret, read_secret
from orchestrator.errors import EnvironmentProblem, NetworkError
from orchestrator.render.compose import AGENT_IMAGE_DEFAULT, AGENT_IMAGE_ENV
from orchestrator.topology import Node

if TYPE_CHECKING:
    from orchestrator.network import NetworkSpec

log = logging.getLogger(__name__)


def agent_image() -> str:
    return os.environ.get(AGENT_IMAGE_ENV) or AGENT_IMAGE_DEFAULT


class AgentFleet:
    """The agent containers of ``spec``'s network (one per edge org)."""

    def __init__(self, spec: NetworkSpec) -> None:
        self.spec = spec
        t = spec.topology
        self.nodes: dict[str, Node] = {org.msp_id: t.peer_of(org) for org in t.edge_orgs}
        self.urls = {msp: f"http://{t.ports.bind}:{node.agent_port}" for msp, node in self.nodes.items()}
        # The secret files are made before the agents start (start()), and read on first use.
        self._clients: dict[str, AgentClient] = {}

    @property
    def clients(self) -> dict[str, AgentClient]:
        """A client of each agent, carrying its org's secret (the run driver acts for every edge)."""
        if not self._clients:
            state = self.spec.state
            self._clients = {
                msp: AgentClient(self.urls[msp], secret=read_secret(state.agent_secret(node.org)))
                for msp, node in self.nodes.items()
            }
        return self._clients

    def ensure_secrets(self) -> None:
        """Each edge's agent secret in the state directory (made once; the agents' containers mount it)."""
        for node in self.nodes.values():
            ensure_secret(self.spec.state.agent_secret(node.org))

    def org_name(self, msp_id: str) -> str:
        return self.nodes[msp_id].org.name

    def msp_of(self, org_name: str) -> str:
        return self.spec.topology.org(org_name).msp_id

    def _containers(self, client: Any) -> dict[str, Any]:
        services = {node.agent_host for node in self.nodes.values()}
        return {
            c.labels.get("com.docker.compose.service", ""): c
            for c in engine.project_containers(client, self.spec.project)
            if c.labels.get("com.docker.compose.service", "") in services
        }

    def running(self) -> set[str]:
        """MSP IDs whose agent container is running."""
        containers = self._containers(engine.connect())
        return {
            msp
            for msp, node in self.nodes.items()
            if getattr(containers.get(node.agent_host), "status", "") == "running"
        }

    def start(self, *, progress: Callable[[str], None] | None = None, timeout: float = 90.0) -> None:
        """Start every agent (a no-op for those running) and wait until each follows its peer's events."""
        client = engine.connect()
        if engine.missing_images(client, [agent_image()]):
            raise EnvironmentProblem(
                f"image {agent_image()} not built: run 'make images' (or bash network/scripts/build-agent-image.sh)"
            )
        if not self.spec.compose_file.exists():
            raise NetworkError(f"no compose file {self.spec.compose_file}: is the network up? run 'make up'")
        running = {
            c.labels.get("com.docker.compose.service", "")
            for c in engine.project_containers(client, self.spec.project)
            if c.status == "running"
        }
        down = [node.host for node in self.nodes.values() if node.host not in running]
        if down:
            raise NetworkError(
                f"network {self.spec.project!r} is not running ({', '.join(down)} down): start it with 'make up'"
            )
        self.ensure_secrets()
        if progress:
            progress(f"starting {len(self.nodes)} edge agents (compose profile 'agents')")
        self.spec.compose().up([node.agent_host for node in self.nodes.values()])
        self.wait_ready(timeout=timeout)

    def start_one(self, msp_id: str, *, timeout: float = 60.0) -> None:
        self.ensure_secrets()
        self.spec.compose().up([self.nodes[msp_id].agent_host])
        self.wait_ready([msp_id], timeout=timeout)

    def wait_ready(self, msp_ids: list[str] | None = None, *, timeout: float = 60.0) -> None:
        waiting = set(msp_ids or self.nodes)
        deadline = time.monotonic() + timeout
        while waiting:
            waiting = {m for m in waiting if not self.clients[m].healthy()}
            if not waiting:
                return
            if time.monotonic() > deadline:
                names = ", ".join(sorted(self.org_name(m) for m in waiting))
                raise NetworkError(
                    f"agent(s) of {names} not ready after {timeout:.0f} s: "
                    f"see 'docker logs {self.spec.project}-agent.<edge>.<domain>-1'"
                )
            time.sleep(0.5)

    def kill(self, msp_id: str) -> None:
        """Kill one agent's container at once (SIGKILL: it finishes nothing)."""
        container = self._containers(engine.connect()).get(self.nodes[msp_id].agent_host)
        if container is None:
            raise NetworkError(f"the agent of {self.org_name(msp_id)} is not running")
        container.kill()

    def partition(self, msp_id: str) -> None:
        """Cut one agent off the Docker network: it keeps running but reaches no peer, and the
        monitor no longer reaches it (its published port goes with the network)."""
        from orchestrator.chaos.faults import partition

        partition(engine.connect(), self.spec, self.nodes[msp_id].agent_host)

    def reconnect(self, msp_id: str) -> None:
        from orchestrator.chaos.faults import reconnect

        reconnect(engine.connect(), self.spec, self.nodes[msp_id].agent_host)

    def stop(self) -> None:
        """Stop and remove every agent container of the project."""
        for container in self._containers(engine.connect()).values():
            try:
                container.remove(force=True)
            except Exception as exc:
                log.debug("removing %s: %s", container.name, exc)

    def traces(self, prefix: str) -> list[dict[str, Any]]:
        """The traces of every agent that answers (a killed one's are gone)."""
        books = []
        for msp, client in self.clients.items():
            try:
                books.append(client.traces(prefix))
            except NetworkError as exc:
                log.warning("no traces from %s: %s", self.org_name(msp), exc)
        return books
