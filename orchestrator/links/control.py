"""Set, read and clear the links of a running network through its backend.

Everything is validated (org names, values, the backend answering for every edge concerned)
before anything is applied, so a bad request changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator.errors import ConfigError
from orchestrator.links.backend import LinkBackend
from orchestrator.links.netem import NetemBackend
from orchestrator.links.settings import Link
from orchestrator.links.toxiproxy import ToxiproxyBackend
from orchestrator.topology import Node, OrgKind

if TYPE_CHECKING:
    from orchestrator.network import NetworkSpec


def backend_for(spec: NetworkSpec) -> LinkBackend:
    links = spec.topology.links
    if links.backend == "netem":
        return NetemBackend(spec.project)
    if not links.proxied:
        raise ConfigError(
            f"network {spec.project!r} has no link proxies: set 'links: {{enabled: true}}' in the topology "
            "and run 'mecfab network up' again (or choose links.backend: netem)"
        )
    return ToxiproxyBackend(spec.topology.ports.bind)


def edge_node(spec: NetworkSpec, name: str) -> Node:
    """The peer of edge org ``name``; a clear error for an unknown org or a non-edge one."""
    org = spec.topology.org(name)
    if org.kind is not OrgKind.EDGE:
        raise ConfigError(f"{org.name} is not an edge org: links are emulated per edge (Edge1, Edge2, ...)")
    return spec.topology.peer_of(org)


def topology_links(spec: NetworkSpec) -> dict[str, Link]:
    """The links the topology asks for, by edge name (resolved: radio → rate)."""
    return {name: link.resolve() for name, link in spec.topology.links.edges.items()}


def set_links(spec: NetworkSpec, links: Mapping[str, Link]) -> dict[str, Link]:
    """Apply ``links`` (edge name → link) after checking every edge; returns what is in force."""
    nodes = {name: edge_node(spec, name) for name in links}
    backend = backend_for(spec)
    for node in nodes.values():
        backend.check(node)
    for name, link in links.items():
        backend.apply(nodes[name], link)
    return {nodes[name].org.name: backend.read(nodes[name]) for name in links}


def apply_topology_links(spec: NetworkSpec) -> dict[str, Link]:
    """What ``network up`` does: every edge gets its topology link (a clear one if none)."""
    if not spec.topology.links.on:
        return {}
    wanted = topology_links(spec)
    return set_links(spec, {org.name: wanted.get(org.name, Link()) for org in spec.topology.edge_orgs})


def clear_links(spec: NetworkSpec, names: list[str]) -> dict[str, Link]:
    return set_links(spec, {name: Link() for name in names})


@dataclass(frozen=True)
class LinkState:
    org: str
    backend: str
    endpoint: str  # what other orgs dial for this edge's peer
    configured: Link  # from the topology
    applied: Link  # read back from the mechanism


def show_links(spec: NetworkSpec) -> list[LinkState]:
    backend = backend_for(spec)
    wanted = topology_links(spec)
    states = []
    for org in spec.topology.edge_orgs:
        node = spec.topology.peer_of(org)
        states.append(
            LinkState(
                org=org.name,
                backend=backend.name,
                endpoint=spec.topology.peer_endpoint(node),
                configured=wanted.get(org.name, Link()),
                applied=backend.read(node),
            )
        )
    return states
