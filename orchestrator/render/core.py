"""core.yaml of an edge peer whose link is emulated by a proxy.

The peer reads ``peer.deliveryclient.addressOverrides`` only from core.yaml (a list of mappings;
Fabric's environment overrides cannot express it). Both the deliver client (blocks) and the
Gateway's broadcast (transactions) use these overrides (Fabric 3.1.1
``core/deliverservice/config.go`` and ``internal/pkg/gateway/endpoint.go``), so each orderer
address is mapped to the edge's proxy, which forwards to the orderer. The base is the peer
image's own core.yaml (Fabric's sampleconfig with ``vm.endpoint`` cleared).
"""

from __future__ import annotations

from typing import Any

import yaml

from orchestrator.render._yaml import dump
from orchestrator.topology import ORDERER_PORT, Node, Topology

ORDERER_TLS_CA = "/etc/hyperledger/fabric/orderer-tlsca.pem"


def address_overrides(topology: Topology, edge: Node) -> list[dict[str, str]]:
    from orchestrator.links.toxiproxy import orderer_proxy_port

    return [
        {
            "from": f"{o.host}:{ORDERER_PORT}",
            "to": f"{edge.proxy_host}:{orderer_proxy_port(o)}",
            "caCertsFile": ORDERER_TLS_CA,
        }
        for o in topology.orderers_nodes
    ]


def render_edge_core(base_core_yaml: str, topology: Topology, edge: Node) -> str:
    data: dict[str, Any] = yaml.safe_load(base_core_yaml)
    data["vm"]["endpoint"] = ""  # as in the peer image: no Docker socket, chaincode as a service
    data["peer"]["deliveryclient"]["addressOverrides"] = address_overrides(topology, edge)
    return dump(
        data,
        header=f"Rendered by mecfab for {edge.host}: Fabric's core.yaml, orderers reached through {edge.proxy_host}.",
    )
