"""crypto-config.yaml for cryptogen: one orderer org, the cloud org and one org per edge."""

from __future__ import annotations

from typing import Any

from orchestrator.render._yaml import dump
from orchestrator.topology import OrgKind, Topology

# Every node's TLS certificate also names the loopback and the topology's ports.bind, so host-side
# tools (osnadmin, the peer CLI, the Python gateway) can reach published ports without overriding
# the server name.
_LOOPBACK_SANS = ["localhost", "127.0.0.1"]


def _host_sans(topology: Topology) -> list[str]:
    bind = topology.ports.bind
    return [*_LOOPBACK_SANS, bind] if bind not in _LOOPBACK_SANS else list(_LOOPBACK_SANS)


# Edges reach orderers through their link proxy when links are emulated (TLS passes through, the
# peer checks the orderer's certificate against the proxy's name): every orderer certificate names
# the proxies of every edge a topology can have (1..32), so edges added later fit too.
MAX_EDGES = 32


def _orderer_sans(topology: Topology) -> list[str]:
    proxies = [f"proxy.edge{i}.{topology.domain}" for i in range(1, MAX_EDGES + 1)]
    return [*_host_sans(topology), *proxies] if topology.links.proxied else _host_sans(topology)


def _peer_sans(topology: Topology, kind: OrgKind, domain: str) -> list[str]:
    if topology.links.proxied and kind is OrgKind.EDGE:
        return [*_host_sans(topology), f"proxy.{domain}"]
    return _host_sans(topology)


def render_crypto_config(topology: Topology) -> str:
    orderer = topology.orderer_org
    data: dict[str, Any] = {
        "OrdererOrgs": [
            {
                "Name": orderer.name,
                "Domain": orderer.domain,
                "EnableNodeOUs": True,
                "Specs": [
                    {"Hostname": node.short, "SANS": _orderer_sans(topology)} for node in topology.orderers_nodes
                ],
            }
        ],
        "PeerOrgs": [
            {
                "Name": node.org.name,
                "Domain": node.org.domain,
                "EnableNodeOUs": True,
                "Specs": [{"Hostname": node.short, "SANS": _peer_sans(topology, node.org.kind, node.org.domain)}],
                "Users": {"Count": 1},
            }
            for node in topology.peer_nodes
        ],
    }
    return dump(data, header="Rendered by `mecfab network render` from the topology; input of cryptogen.")
