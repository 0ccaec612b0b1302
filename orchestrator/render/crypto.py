"""crypto-config.yaml for cryptogen: one orderer org, the cloud org and one org per edge."""

from __future__ import annotations

from typing import Any

from orchestrator.render._yaml import dump
from orchestrator.topology import Topology

# Every node's TLS certificate also names the loopback, so host-side tools (osnadmin, the peer
# CLI, the Python gateway) can reach published ports without overriding the server name.
_LOOPBACK_SANS = ["localhost", "127.0.0.1"]


def render_crypto_config(topology: Topology) -> str:
    orderer = topology.orderer_org
    data: dict[str, Any] = {
        "OrdererOrgs": [
            {
                "Name": orderer.name,
                "Domain": orderer.domain,
                "EnableNodeOUs": True,
                "Specs": [{"Hostname": node.short, "SANS": list(_LOOPBACK_SANS)} for node in topology.orderers_nodes],
            }
        ],
        "PeerOrgs": [
            {
                "Name": node.org.name,
                "Domain": node.org.domain,
                "EnableNodeOUs": True,
                "Specs": [{"Hostname": node.short, "SANS": list(_LOOPBACK_SANS)}],
                "Users": {"Count": 1},
            }
            for node in topology.peer_nodes
        ],
    }
    return dump(data, header="Rendered by `mecfab network render` from the topology; input of cryptogen.")
