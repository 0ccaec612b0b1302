"""A Docker Swarm stack file (compose format 3.8, for ``docker stack deploy``) of a topology.

The same nodes as the compose render, with what a multi-host swarm needs instead of what one
machine allows:

* one service per orderer, peer and chaincode server on an attachable overlay network; each
  service is reachable under the compose host name (``peer0.edge1.mec``, ``cc.edge1.mec``) as a
  network alias, so TLS names, gossip endpoints and the ccaas builder's ``cc.{{.peername}}`` work
  unchanged. Service names cannot hold dots, so ``peer0.edge1.mec`` becomes ``peer0-edge1-mec``.
* crypto material travels with the stack: certificates and ``config.yaml`` as Swarm configs,
  private keys as Swarm secrets, mounted where the compose file bind-mounts the directories.
* ports published in ``host`` mode on the node that runs the task (or ``ingress``: every node).
* ``endpoint_mode: dnsrr`` (host mode): names resolve to the task's address, no IPVS virtual IP.
* with ``pin_orgs``, each org's services only run on swarm nodes labelled ``mecfab.org=<org>``.

Pure: the same inputs give byte-identical output.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any, Literal

from orchestrator.errors import ConfigError
from orchestrator.paths import StateDir
from orchestrator.render._yaml import Octal, dump
from orchestrator.render.compose import (
    DATA,
    NETWORK,
    ORDERER_COMMAND,
    ORDERER_MSP_DIR,
    ORDERER_TLS_DIR,
    PEER_COMMAND,
    PEER_MSP_DIR,
    PEER_TLS_DIR,
    chaincode_environment,
    node_labels,
    orderer_environment,
    peer_environment,
)
from orchestrator.topology import (
    OPERATIONS_PORT,
    ORDERER_ADMIN_PORT,
    ORDERER_PORT,
    PEER_PORT,
    Node,
    Topology,
)

PublishMode = Literal["host", "ingress"]
PLACEMENT_LABEL = "mecfab.org"
STACK_FILE = "swarm-stack.yaml"
# Swarm refuses config and secret names longer than this ("<stack>_<name>" included).
MAX_OBJECT_NAME = 64
MAX_PUBLISHED_PORT = 32000  # above 32768 Linux hands out ephemeral ports: a published port may be taken


def service_name(host: str) -> str:
    """Swarm service names are DNS labels: ``peer0.edge1.mec`` → ``peer0-edge1-mec``."""
    return host.replace(".", "-")


def crypto_files(node: Node) -> list[tuple[str, str, bool]]:
    """cryptogen's files for one node: (path under the node's directory, short name, is a secret).
    The admincerts directory stays empty with NodeOUs and is not needed."""
    domain = node.org.domain
    return [
        ("msp/config.yaml", "msp-config", False),
        (f"msp/cacerts/ca.{domain}-cert.pem", "msp-ca", False),
        (f"msp/signcerts/{node.host}-cert.pem", "msp-cert", False),
        (f"msp/tlscacerts/tlsca.{domain}-cert.pem", "msp-tlsca", False),
        ("msp/keystore/priv_sk", "msp-key", True),
        ("tls/ca.crt", "tls-ca", False),
        ("tls/server.crt", "tls-cert", False),
        ("tls/server.key", "tls-key", True),
    ]


def _mount_dirs(node: Node) -> dict[str, str]:
    if node.is_orderer:
        return {"msp": ORDERER_MSP_DIR, "tls": ORDERER_TLS_DIR}
    return {"msp": PEER_MSP_DIR, "tls": PEER_TLS_DIR}


def _ports(pairs: list[tuple[int, int]], mode: PublishMode) -> list[dict[str, Any]]:
    for host, _ in pairs:
        if host >= MAX_PUBLISHED_PORT:
            raise ConfigError(f"host port {host} is too high for a swarm stack: keep ports.base + slots below 32000")
    return [{"target": c, "published": h, "protocol": "tcp", "mode": mode} for h, c in pairs]


def _deploy(topology: Topology, node: Node, *, pin_orgs: bool, publish: PublishMode) -> dict[str, Any]:
    deploy: dict[str, Any] = {
        "mode": "replicated",
        "replicas": 1,
        # ingress-mode ports need a virtual IP; with host-mode ports, names resolve to the task itself
        "endpoint_mode": "dnsrr" if publish == "host" else "vip",
        "restart_policy": {"condition": "any", "delay": "2s"},
        "labels": {"mecfab.network": topology.name},
    }
    if pin_orgs:
        deploy["placement"] = {"constraints": [f"node.labels.{PLACEMENT_LABEL} == {node.org.name}"]}
    return deploy


def _network(alias: str) -> dict[str, Any]:
    return {NETWORK: {"aliases": [alias]}}


class _Objects:
    """The stack's configs and secrets, by key, with their files relative to the stack file."""

    def __init__(self, project: str, state: StateDir) -> None:
        self.project, self.state = project, state
        self.configs: dict[str, Any] = {}
        self.secrets: dict[str, Any] = {}

    def mounts(self, topology: Topology, node: Node) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        configs, secrets = [], []
        dirs = _mount_dirs(node)
        base = self.state.node_dir(node)
        for rel, short, secret in crypto_files(node):
            key = f"{node.host}-{short}"
            if len(f"{self.project}_{key}") > MAX_OBJECT_NAME:
                raise ConfigError(
                    f"swarm object name {self.project}_{key} is longer than {MAX_OBJECT_NAME} characters: "
                    "use a shorter project name or topology domain"
                )
            top, _, rest = rel.partition("/")
            source = "./" + str(PurePosixPath((base / rel).relative_to(self.state.root)))
            mount = {"source": key, "target": f"{dirs[top]}/{rest}", "mode": Octal(0o400 if secret else 0o444)}
            labels = {"mecfab.network": topology.name}
            if secret:
                self.secrets[key] = {"file": source, "labels": labels}
                secrets.append(mount)
            else:
                self.configs[key] = {"file": source, "labels": labels}
                configs.append(mount)
        return configs, secrets


def render_swarm(
    topology: Topology,
    *,
    project: str,
    state: StateDir,
    package_id: str,
    fabric_version: str,
    pin_orgs: bool = False,
    publish: PublishMode = "host",
) -> str:
    """The stack file, written as ``<state>/swarm-stack.yaml`` (its file paths are relative to it)."""
    if topology.links.on:
        raise ConfigError("emulated links (links: in the topology) are compose-only: turn them off for --target swarm")
    objects = _Objects(project, state)
    services: dict[str, Any] = {}
    for node in topology.nodes:
        configs, secrets = objects.mounts(topology, node)
        if node.is_orderer:
            image = f"${{MECFAB_ORDERER_IMAGE:-mecfab/fabric-orderer:{fabric_version}}}"
            command, env, role = ORDERER_COMMAND, orderer_environment(node), "orderer"
            pairs = [(node.host_port, ORDERER_PORT), (node.operations_port, OPERATIONS_PORT)]
            pairs.append((node.admin_port, ORDERER_ADMIN_PORT))
        else:
            image = f"${{MECFAB_PEER_IMAGE:-mecfab/fabric-peer:{fabric_version}}}"
            command, env, role = PEER_COMMAND, peer_environment(topology, node), "peer"
            pairs = [(node.host_port, PEER_PORT), (node.operations_port, OPERATIONS_PORT)]
        services[service_name(node.host)] = {
            "image": image,
            "command": list(command),
            "hostname": node.host,
            "labels": node_labels(topology, role=role, org=node.org.name),
            "environment": env,
            "configs": configs,
            "secrets": secrets,
            "volumes": [{"type": "volume", "source": service_name(node.host), "target": DATA}],
            "ports": _ports(pairs, publish),
            "networks": _network(node.host),
            "stop_grace_period": "5s",
            "deploy": _deploy(topology, node, pin_orgs=pin_orgs, publish=publish),
        }
    for node in topology.peer_nodes:
        services[service_name(node.chaincode_host)] = {
            "image": "${MECFAB_CHAINCODE_IMAGE:-mecfab/chaincode-mectask:latest}",
            "hostname": node.chaincode_host,
            "labels": node_labels(topology, role="chaincode", org=node.org.name),
            "environment": chaincode_environment(package_id),
            "networks": _network(node.chaincode_host),
            "stop_grace_period": "5s",
            "deploy": _deploy(topology, node, pin_orgs=pin_orgs, publish=publish),
        }
    data = {
        "version": "3.8",
        "services": services,
        "volumes": {service_name(n.host): {"labels": {"mecfab.network": topology.name}} for n in topology.nodes},
        "networks": {NETWORK: {"driver": "overlay", "attachable": True, "labels": {"mecfab.network": topology.name}}},
        "configs": objects.configs,
        "secrets": objects.secrets,
    }
    pinning = (
        f"Each org's services run only on swarm nodes labelled {PLACEMENT_LABEL}=<org> "
        f"(docker node update --label-add {PLACEMENT_LABEL}=Edge1 <node>)."
        if pin_orgs
        else "Services may run on any swarm node (render with --pin-orgs to pin orgs to labelled nodes)."
    )
    header = (
        "Rendered by `mecfab network render --target swarm`: do not edit by hand.\n"
        f"Deploy: docker stack deploy --resolve-image never -c {STACK_FILE} {project}\n"
        "Images must exist on every swarm node (or in a registry: MECFAB_PEER_IMAGE, MECFAB_ORDERER_IMAGE,\n"
        "MECFAB_CHAINCODE_IMAGE). Ports are published in "
        f"{publish} mode{' on the node that runs the task' if publish == 'host' else ' on every node'}.\n" + pinning
    )
    return dump(data, header=header)
