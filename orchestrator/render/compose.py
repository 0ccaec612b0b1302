"""docker-compose.yaml: every orderer, peer and chaincode-as-a-service container of a topology."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

from orchestrator.links.toxiproxy import API_PORT, ECHO_PORT, PROBE_PORT, proxies_config
from orchestrator.paths import StateDir
from orchestrator.render._yaml import dump
from orchestrator.render.core import ORDERER_TLS_CA
from orchestrator.topology import (
    CHAINCODE_SERVER_PORT,
    OPERATIONS_PORT,
    ORDERER_ADMIN_PORT,
    ORDERER_PORT,
    PEER_CHAINCODE_PORT,
    PEER_PORT,
    Node,
    Org,
    OrgKind,
    Topology,
)
from orchestrator.versions import COMPOSE_IMAGE_VARS, default_fabric_version, toxiproxy_version

NETWORK = "mec"
FABRIC_CFG = "/etc/hyperledger/fabric"
DATA = "/var/hyperledger/production"
BUILDER_DIR = "/opt/hyperledger/ccaas_builder"


def node_labels(topology: Topology, *, role: str, org: str) -> dict[str, str]:
    return {"mecfab.network": topology.name, "mecfab.role": role, "mecfab.org": org}


def _rel(state: StateDir, path: Any, state_rel: str) -> str:
    """A bind-mount source relative to the compose file; "./" marks it as a path, not a volume name."""
    rel = str(PurePosixPath(state_rel) / path.relative_to(state.root))
    return rel if rel.startswith(("/", "./", "../")) else f"./{rel}"


def _ports(topology: Topology, pairs: list[tuple[int, int]]) -> list[str]:
    return [f"{topology.ports.bind}:{host}:{container}" for host, container in pairs]


# Where each node reads its crypto material: bind mounts here, Swarm configs and secrets in render.swarm.
ORDERER_MSP_DIR = "/var/hyperledger/orderer/msp"
ORDERER_TLS_DIR = "/var/hyperledger/orderer/tls"
PEER_MSP_DIR = f"{FABRIC_CFG}/msp"
PEER_TLS_DIR = f"{FABRIC_CFG}/tls"
ORDERER_COMMAND = ["orderer"]
PEER_COMMAND = ["peer", "node", "start"]


def orderer_environment(node: Node) -> dict[str, str]:
    """The orderer's settings (shared by the compose and the swarm render)."""
    tls = ORDERER_TLS_DIR
    return {
        "FABRIC_CFG_PATH": FABRIC_CFG,
        "FABRIC_LOGGING_SPEC": "INFO",
        "ORDERER_GENERAL_LISTENADDRESS": "0.0.0.0",
        "ORDERER_GENERAL_LISTENPORT": str(ORDERER_PORT),
        "ORDERER_GENERAL_LOCALMSPID": node.org.msp_id,
        "ORDERER_GENERAL_LOCALMSPDIR": "/var/hyperledger/orderer/msp",
        "ORDERER_GENERAL_BOOTSTRAPMETHOD": "none",
        "ORDERER_GENERAL_TLS_ENABLED": "true",
        "ORDERER_GENERAL_TLS_PRIVATEKEY": f"{tls}/server.key",
        "ORDERER_GENERAL_TLS_CERTIFICATE": f"{tls}/server.crt",
        "ORDERER_GENERAL_TLS_ROOTCAS": f"[{tls}/ca.crt]",
        "ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE": f"{tls}/server.crt",
        "ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY": f"{tls}/server.key",
        "ORDERER_GENERAL_CLUSTER_ROOTCAS": f"[{tls}/ca.crt]",
        "ORDERER_CHANNELPARTICIPATION_ENABLED": "true",
        "ORDERER_ADMIN_LISTENADDRESS": f"0.0.0.0:{ORDERER_ADMIN_PORT}",
        "ORDERER_ADMIN_TLS_ENABLED": "true",
        "ORDERER_ADMIN_TLS_PRIVATEKEY": f"{tls}/server.key",
        "ORDERER_ADMIN_TLS_CERTIFICATE": f"{tls}/server.crt",
        "ORDERER_ADMIN_TLS_ROOTCAS": f"[{tls}/ca.crt]",
        "ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED": "true",
        "ORDERER_ADMIN_TLS_CLIENTROOTCAS": f"[{tls}/ca.crt]",
        "ORDERER_OPERATIONS_LISTENADDRESS": f"0.0.0.0:{OPERATIONS_PORT}",
        "ORDERER_METRICS_PROVIDER": "prometheus",
        "ORDERER_FILELEDGER_LOCATION": f"{DATA}/orderer",
        "ORDERER_CONSENSUS_WALDIR": f"{DATA}/orderer/etcdraft/wal",
        "ORDERER_CONSENSUS_SNAPDIR": f"{DATA}/orderer/etcdraft/snapshot",
    }


def _orderer(topology: Topology, node: Node, state: StateDir, state_rel: str) -> dict[str, Any]:
    return {
        "image": COMPOSE_IMAGE_VARS["orderer"] % default_fabric_version(),
        "command": list(ORDERER_COMMAND),
        "labels": node_labels(topology, role="orderer", org=node.org.name),
        "environment": orderer_environment(node),
        "volumes": [
            f"{_rel(state, state.node_msp(node), state_rel)}:{ORDERER_MSP_DIR}:ro",
            f"{_rel(state, state.node_tls(node), state_rel)}:{ORDERER_TLS_DIR}:ro",
            f"{node.host}:{DATA}",
        ],
        "ports": _ports(
            topology,
            [
                (node.host_port, ORDERER_PORT),
                (node.operations_port, OPERATIONS_PORT),
                (node.admin_port, ORDERER_ADMIN_PORT),
            ],
        ),
        "networks": [NETWORK],
    }


def peer_environment(topology: Topology, node: Node) -> dict[str, str]:
    """The peer's settings (shared by the compose and the swarm render). The ccaas builder turns
    ``cc.{{.peername}}`` into ``cc.<org domain>``: the chaincode server's host name."""
    address = f"{node.host}:{PEER_PORT}"
    builders = [
        {
            "name": "ccaas_builder",
            "path": BUILDER_DIR,
            "propagateEnvironment": ["CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"],
        }
    ]
    return {
        "FABRIC_CFG_PATH": FABRIC_CFG,
        "FABRIC_LOGGING_SPEC": "INFO",
        "CORE_PEER_ID": node.host,
        "CORE_PEER_ADDRESS": address,
        "CORE_PEER_LISTENADDRESS": f"0.0.0.0:{PEER_PORT}",
        "CORE_PEER_CHAINCODEADDRESS": f"{node.host}:{PEER_CHAINCODE_PORT}",
        "CORE_PEER_CHAINCODELISTENADDRESS": f"0.0.0.0:{PEER_CHAINCODE_PORT}",
        "CORE_PEER_GOSSIP_BOOTSTRAP": address,
        # what other orgs (gossip, discovery, their gateways) dial: the link proxy, if any
        "CORE_PEER_GOSSIP_EXTERNALENDPOINT": topology.peer_endpoint(node),
        # A peer that tried another org's peer before it knew that org's TLS CA (channel join)
        # retries after reconnectInterval: 25 s by default, 2 s here so membership converges fast.
        "CORE_PEER_GOSSIP_RECONNECTINTERVAL": "2s",
        # A block holding an invalid transaction whose private data never reached this peer (e.g. an
        # executor writing the requester's collection without the requester's endorsement) must not
        # stall the peer for pullRetryThreshold (60 s by default): skip pulling for invalid
        # transactions, give up pulling valid ones after 5 s and let the reconciler fetch them later.
        "CORE_PEER_GOSSIP_PVTDATA_SKIPPULLINGINVALIDTRANSACTIONSDURINGCOMMIT": "true",
        "CORE_PEER_GOSSIP_PVTDATA_PULLRETRYTHRESHOLD": "5s",
        "CORE_PEER_GOSSIP_PVTDATA_RECONCILESLEEPINTERVAL": "10s",
        "CORE_PEER_LOCALMSPID": node.org.msp_id,
        "CORE_PEER_MSPCONFIGPATH": f"{FABRIC_CFG}/msp",
        "CORE_PEER_FILESYSTEMPATH": DATA,
        "CORE_LEDGER_SNAPSHOTS_ROOTDIR": f"{DATA}/snapshots",
        "CORE_PEER_TLS_ENABLED": "true",
        "CORE_PEER_TLS_CERT_FILE": f"{FABRIC_CFG}/tls/server.crt",
        "CORE_PEER_TLS_KEY_FILE": f"{FABRIC_CFG}/tls/server.key",
        "CORE_PEER_TLS_ROOTCERT_FILE": f"{FABRIC_CFG}/tls/ca.crt",
        "CORE_OPERATIONS_LISTENADDRESS": f"0.0.0.0:{OPERATIONS_PORT}",
        "CORE_METRICS_PROVIDER": "prometheus",
        "CORE_CHAINCODE_EXTERNALBUILDERS": json.dumps(builders, separators=(",", ":")),
        "CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG": json.dumps({"peername": node.org.domain}),
        **topology.peers.environment(),
    }


def _peer(topology: Topology, node: Node, state: StateDir, state_rel: str) -> dict[str, Any]:
    volumes = [
        f"{_rel(state, state.node_msp(node), state_rel)}:{PEER_MSP_DIR}:ro",
        f"{_rel(state, state.node_tls(node), state_rel)}:{PEER_TLS_DIR}:ro",
        f"{node.host}:{DATA}",
    ]
    if topology.links.proxied and node.org.kind is OrgKind.EDGE:
        # orderer connections through the link proxy: addressOverrides in core.yaml (render/core.py)
        volumes += [
            f"{_rel(state, state.link_core_yaml(node.org), state_rel)}:{FABRIC_CFG}/core.yaml:ro",
            f"{_rel(state, state.org_tls_ca(topology.orderer_org), state_rel)}:{ORDERER_TLS_CA}:ro",
        ]
    return {
        "image": COMPOSE_IMAGE_VARS["peer"] % default_fabric_version(),
        "command": list(PEER_COMMAND),
        "labels": node_labels(topology, role="peer", org=node.org.name),
        "environment": peer_environment(topology, node),
        "volumes": volumes,
        "ports": _ports(topology, [(node.host_port, PEER_PORT), (node.operations_port, OPERATIONS_PORT)]),
        "networks": service_networks(topology, node.host),
    }


def chaincode_environment(package_id: str) -> dict[str, str]:
    return {"CHAINCODE_ID": package_id, "CHAINCODE_SERVER_ADDRESS": f"0.0.0.0:{CHAINCODE_SERVER_PORT}"}


def _chaincode(topology: Topology, node: Node, package_id: str) -> dict[str, Any]:
    return {
        "image": COMPOSE_IMAGE_VARS["chaincode"],
        "labels": node_labels(topology, role="chaincode", org=node.org.name),
        "environment": chaincode_environment(package_id),
        "networks": [NETWORK],
    }


def _link_proxy(topology: Topology, node: Node) -> dict[str, Any]:
    """An edge's link proxy (issue 11): Toxiproxy with the edge's proxies preloaded, and an echo
    server for the link probe. Toxics are set through its API (published on the host)."""
    config = json.dumps(proxies_config(topology, node), separators=(",", ":"))
    script = (
        f"printf '%s' '{config}' > /tmp/proxies.json && "
        f"(nc -ll -p {ECHO_PORT} -e cat &) && "
        f"exec toxiproxy-server -host 0.0.0.0 -port {API_PORT} -config /tmp/proxies.json"
    )
    return {
        "image": COMPOSE_IMAGE_VARS["toxiproxy"] % toxiproxy_version(),
        "command": ["sh", "-c", script],
        "labels": node_labels(topology, role="link-proxy", org=node.org.name),
        "ports": _ports(topology, [(node.proxy_api_port, API_PORT), (node.probe_port, PROBE_PORT)]),
        "networks": [NETWORK],
    }


# ---- edge agents (issue 5): one per edge org, started only with the compose profile "agents" ----
AGENT_PROFILE = "agents"
AGENT_IMAGE_ENV = "MECFAB_AGENT_IMAGE"
AGENT_IMAGE_DEFAULT = "mecfab/agent:latest"
AGENT_LISTEN_PORT = 8700
AGENT_MSP_DIR = "/etc/mecfab/msp"
AGENT_TLS_CA = "/etc/mecfab/tls-ca.pem"
AGENT_SECRET = "/etc/mecfab/agent.secret"


def org_network(org: Org) -> str:
    """An edge org's own Docker network: its peer and its agent, nothing else (the agent is reachable
    only from its own org and, through its published port, from the host)."""
    return f"{NETWORK}-{org.name.lower()}"


def service_networks(topology: Topology, service: str) -> list[str]:
    """The Docker networks (compose names) a service of ``topology`` is on."""
    for node in topology.peer_nodes:
        if node.org.kind is OrgKind.EDGE:
            if service == node.agent_host:
                return [org_network(node.org)]
            if service == node.host:
                return [NETWORK, org_network(node.org)]
    return [NETWORK]


def _agent(topology: Topology, node: Node, state: StateDir, state_rel: str) -> dict[str, Any]:
    """The org's agent: reaches its own peer by host name over TLS, as the org's User1 (read-only mounts).
    No ``depends_on``: starting the agents must never start or recreate a peer."""
    server = topology.edge_server(node.org)
    return {
        "image": f"${{{AGENT_IMAGE_ENV}:-{AGENT_IMAGE_DEFAULT}}}",
        "profiles": [AGENT_PROFILE],
        "command": [
            "--org",
            node.org.name,
            "--channel",
            topology.channel,
            "--chaincode",
            topology.chaincode.name,
            "--listen",
            f"0.0.0.0:{AGENT_LISTEN_PORT}",
        ],
        "labels": node_labels(topology, role="agent", org=node.org.name),
        "environment": {
            "MECFAB_PEER": f"{node.host}:{PEER_PORT}",
            "MECFAB_MSP_DIR": AGENT_MSP_DIR,
            "MECFAB_TLS_CA": AGENT_TLS_CA,
            "MECFAB_AGENT_SECRET_FILE": AGENT_SECRET,
            "MECFAB_CPUS": str(server.cpus),
            "MECFAB_MEMORY_MB": str(server.memory_mb),
            "MECFAB_PRICE": str(server.price_per_gigacycle),
            "MECFAB_BACKGROUND": str(server.background_load),
            "MECFAB_BACKGROUND_PERIOD": str(server.background_period_s),
        },
        "volumes": [
            f"{_rel(state, state.user_msp(node.org, 'User1'), state_rel)}:{AGENT_MSP_DIR}:ro",
            f"{_rel(state, state.org_tls_ca(node.org), state_rel)}:{AGENT_TLS_CA}:ro",
            f"{_rel(state, state.agent_secret(node.org), state_rel)}:{AGENT_SECRET}:ro",
        ],
        "ports": _ports(topology, [(node.agent_port, AGENT_LISTEN_PORT)]),
        "cpus": server.cpus,
        "mem_limit": f"{server.memory_mb}m",
        "networks": service_networks(topology, node.agent_host),
    }


def render_compose(topology: Topology, *, project: str, state: StateDir, state_rel: str, package_id: str) -> str:
    """The compose file. ``state_rel`` is the state dir relative to the compose file's directory."""
    services: dict[str, Any] = {}
    for node in topology.orderers_nodes:
        services[node.host] = _orderer(topology, node, state, state_rel)
    for node in topology.peer_nodes:
        services[node.host] = _peer(topology, node, state, state_rel)
    for node in topology.peer_nodes:
        services[node.chaincode_host] = _chaincode(topology, node, package_id)
    for node in topology.peer_nodes:
        if node.org.kind is OrgKind.EDGE:
            services[node.agent_host] = _agent(topology, node, state, state_rel)
    if topology.links.proxied:
        for node in topology.peer_nodes:
            if node.org.kind is OrgKind.EDGE:
                services[node.proxy_host] = _link_proxy(topology, node)
    data = {
        "name": project,
        "services": services,
        "volumes": {node.host: {"labels": {"mecfab.network": topology.name}} for node in topology.nodes},
        "networks": {
            NETWORK: {"labels": {"mecfab.network": topology.name}},
            **{org_network(org): {"labels": {"mecfab.network": topology.name}} for org in topology.edge_orgs},
        },
    }
    header = (
        "Rendered by `mecfab network render` from network/topology.yaml: do not edit by hand.\n"
        "Images: set MECFAB_PEER_IMAGE, MECFAB_ORDERER_IMAGE, MECFAB_CHAINCODE_IMAGE or FABRIC_VERSION.\n"
        f"Edge agents (profile {AGENT_PROFILE!r}, image {AGENT_IMAGE_ENV}) start with `mecfab run tasks`."
    )
    return dump(data, header=header)
