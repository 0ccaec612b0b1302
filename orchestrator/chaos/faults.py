"""Faults, each a small class registered by name: ``inject`` breaks something through the Docker
API and returns what ``heal`` needs to undo it. Nothing here waits for recovery or measures."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from orchestrator import engine
from orchestrator.errors import ConfigError, NetworkError
from orchestrator.network import NetworkSpec, raft_leaders
from orchestrator.render.compose import NETWORK, service_networks
from orchestrator.topology import Node

log = logging.getLogger(__name__)


def container(client: Any, spec: NetworkSpec, service: str) -> Any:
    for c in engine.project_containers(client, spec.project):
        if c.labels.get("com.docker.compose.service") == service:
            return c
    raise NetworkError(f"no container for service {service} in project {spec.project}")


def leader(spec: NetworkSpec) -> Node:
    leaders = raft_leaders(spec)
    if len(leaders) != 1:
        raise NetworkError(f"expected one consensus leader, found {len(leaders)}")
    return leaders[0]


@dataclass(frozen=True)
class Injected:
    """What a fault did: the services it touched (for healing) and a line for the report."""

    services: tuple[str, ...]
    description: str


class Fault(ABC):
    name: ClassVar[str]
    summary: ClassVar[str]
    heals: ClassVar[bool] = True  # False: the network must recover without help
    needs_agents: ClassVar[bool] = False  # True: only with the edge agents running
    stops_ordering: ClassVar[bool] = False  # True: no leader until healed (leader time counts from inject)

    @abstractmethod
    def inject(self, client: Any, spec: NetworkSpec) -> Injected: ...

    def heal(self, client: Any, spec: NetworkSpec, injected: Injected) -> None:
        for service in injected.services:
            container(client, spec, service).start()


FAULTS: dict[str, type[Fault]] = {}


def register(cls: type[Fault]) -> type[Fault]:
    FAULTS[cls.name] = cls
    return cls


def create(name: str) -> Fault:
    try:
        return FAULTS[name]()
    except KeyError:
        raise ConfigError(f"unknown fault {name!r}; choose one of {', '.join(sorted(FAULTS))}") from None


@register
class KillLeader(Fault):
    name = "leader-kill"
    summary = "kill the Raft leader orderer (SIGKILL); restart it after the fault window"

    def inject(self, client: Any, spec: NetworkSpec) -> Injected:
        node = leader(spec)
        container(client, spec, node.host).kill()
        return Injected((node.host,), f"killed leader {node.host}")


@register
class KillFollower(Fault):
    name = "follower-kill"
    summary = "kill one orderer that is not the leader"

    def inject(self, client: Any, spec: NetworkSpec) -> Injected:
        current = leader(spec)
        node = next(n for n in spec.topology.orderers_nodes if n != current)
        container(client, spec, node.host).kill()
        return Injected((node.host,), f"killed follower {node.host}")


@register
class KillQuorum(Fault):
    name = "two-orderers-kill"
    summary = "kill two of three orderers (quorum lost: ordering stops until one returns)"
    stops_ordering = True

    def inject(self, client: Any, spec: NetworkSpec) -> Injected:
        current = leader(spec)
        others = [n for n in spec.topology.orderers_nodes if n != current]
        victims = (current, others[0])
        for node in victims:
            container(client, spec, node.host).kill()
        return Injected(tuple(n.host for n in victims), f"killed {victims[0].host} (leader) and {victims[1].host}")


@register
class RestartPeer(Fault):
    name = "peer-restart"
    summary = "stop an edge peer (not the one clients use first), start it again after the window"

    def inject(self, client: Any, spec: NetworkSpec) -> Injected:
        node = spec.topology.peer_nodes[-1]
        container(client, spec, node.host).stop(timeout=2)
        return Injected((node.host,), f"stopped {node.host}")


def network_of(client: Any, spec: NetworkSpec, name: str = NETWORK) -> Any:
    """The Docker network ``name`` (a compose network name) of the network's project."""
    return client.networks.get(f"{spec.project}_{name}")


def partition(client: Any, spec: NetworkSpec, service: str) -> None:
    """Cut a container off every Docker network it is on (its published ports go with them)."""
    target = container(client, spec, service)
    for name in service_networks(spec.topology, service):
        network_of(client, spec, name).disconnect(target, force=True)


def reconnect(client: Any, spec: NetworkSpec, service: str) -> None:
    """Undo :func:`partition`; the service name is the container's DNS name again."""
    target = container(client, spec, service)
    for name in service_networks(spec.topology, service):
        network_of(client, spec, name).connect(target, aliases=[service])


class Partition(Fault):
    """Disconnect one container from the Docker network; reconnect it after the window."""

    @abstractmethod
    def target(self, client: Any, spec: NetworkSpec) -> str: ...

    def inject(self, client: Any, spec: NetworkSpec) -> Injected:
        service = self.target(client, spec)
        partition(client, spec, service)
        return Injected((service,), f"partitioned {service}")

    def heal(self, client: Any, spec: NetworkSpec, injected: Injected) -> None:
        for service in injected.services:
            reconnect(client, spec, service)


@register
class PartitionPeer(Partition):
    name = "peer-partition"
    summary = "disconnect an edge peer from the Docker network, reconnect it after the window"

    def target(self, client: Any, spec: NetworkSpec) -> str:
        return spec.topology.peer_nodes[-1].host


@register
class PartitionAgent(Partition):
    name = "agent-partition"
    summary = "disconnect the last edge's agent (needs `mecfab run agents`), reconnect it after the window"
    needs_agents = True

    def target(self, client: Any, spec: NetworkSpec) -> str:
        service = spec.topology.peer_of(spec.topology.edge_orgs[-1]).agent_host
        running = [c for c in engine.project_containers(client, spec.project) if c.status == "running"]
        if not any(c.labels.get("com.docker.compose.service") == service for c in running):
            raise NetworkError(f"no running agent {service}: start the agents first (mecfab run agents)")
        return service


@register
class RestartNetwork(Fault):
    name = "network-restart"
    summary = "stop every orderer, peer and chaincode server; start them all again after the window"
    stops_ordering = True

    def inject(self, client: Any, spec: NetworkSpec) -> Injected:
        roles = ("orderer", "peer", "chaincode")
        nodes = [c for c in engine.project_containers(client, spec.project) if c.labels.get("mecfab.role") in roles]
        for c in nodes:  # docker stop: SIGTERM, SIGKILL after 2 s
            c.stop(timeout=2)
        order = {role: i for i, role in enumerate(roles)}  # orderers first: peers find them on start
        ranked = sorted(nodes, key=lambda c: (order[c.labels["mecfab.role"]], c.name))
        services = tuple(c.labels["com.docker.compose.service"] for c in ranked)
        return Injected(services, f"stopped all {len(services)} Fabric containers")
