"""Bring a topology up as a live Fabric network, report on it, take it down.

Every step is idempotent: ``up`` on a running network only does what is missing, ``down`` on a
stopped one does nothing. Progress goes to a callback; nothing here prints.
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from orchestrator import engine, metrics
from orchestrator.errors import ConfigError, EnvironmentProblem, NetworkError
from orchestrator.fabric_tools import FabricTools, org_admin_flags
from orchestrator.paths import StateDir, fabric_home
from orchestrator.render import ccaas_package, package_id, render_compose, render_configtx, render_crypto_config
from orchestrator.render.configtx import PROFILE
from orchestrator.render.core import render_edge_core
from orchestrator.topology import DEFAULT_TOPOLOGY, REPO_ROOT, Node, Org, Topology, load_topology
from orchestrator.versions import Images, fabric_version, toxiproxy_image

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
DEFAULT_PROJECT = "mecfab"
DEFAULT_COMPOSE = REPO_ROOT / "docker-compose.yaml"


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class NetworkSpec:
    """Which network: its topology, compose project, compose file and state directory."""

    topology: Topology
    project: str
    compose_file: Path
    state: StateDir
    fabric_version: str

    @classmethod
    def default(
        cls,
        *,
        topology_file: Path | None = None,
        edges: int | None = None,
        orderers: int | None = None,
        version: str | None = None,
        consensus: str | None = None,
    ) -> NetworkSpec:
        """The user's network. The committed ``docker-compose.yaml`` serves the default topology;
        any other topology gets its compose file inside its state directory."""
        state = StateDir(REPO_ROOT / ".mecfab" / DEFAULT_PROJECT)
        if (
            topology_file is None
            and edges is None
            and orderers is None
            and consensus is None
            and state.topology.exists()
        ):
            topology_file = state.topology  # the network that is there: status/down/task need no options
        topology = load_topology(topology_file).with_overrides(edges=edges, orderers=orderers, consensus=consensus)
        is_default = topology == load_topology(DEFAULT_TOPOLOGY)
        compose = DEFAULT_COMPOSE if is_default else state.root / "docker-compose.yaml"
        return cls(topology, DEFAULT_PROJECT, compose, state, fabric_version(version))

    @classmethod
    def isolated(cls, root: Path, *, project: str, topology: Topology, version: str | None = None) -> NetworkSpec:
        """A self-contained network (tests): everything under ``root``, its own project name."""
        return cls(topology, project, root / "docker-compose.yaml", StateDir(root), fabric_version(version))

    @property
    def state_rel(self) -> str:
        try:
            return str(self.state.root.relative_to(self.compose_file.parent)) or "."
        except ValueError:
            return str(self.state.root)

    @property
    def package(self) -> bytes:
        return ccaas_package(self.topology)

    @property
    def package_id(self) -> str:
        return package_id(self.topology.chaincode.label, self.package)

    def compose(self) -> engine.Compose:
        return engine.Compose(self.project, self.compose_file, {"FABRIC_VERSION": self.fabric_version})

    def render_compose(self) -> str:
        return render_compose(
            self.topology, project=self.project, state=self.state, state_rel=self.state_rel, package_id=self.package_id
        )


# ---- artifacts ---------------------------------------------------------------------------------
def _write_if_changed(path: Path, content: str | bytes) -> None:
    data = content.encode() if isinstance(content, str) else content
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def render(spec: NetworkSpec) -> list[Path]:
    """Write every rendered file of ``spec`` (no tool runs); returns the paths."""
    t = spec.topology
    files: dict[Path, str | bytes] = {
        spec.state.topology: yaml.safe_dump(t.model_dump(), sort_keys=False),
        spec.state.crypto_config: render_crypto_config(t),
        spec.state.configtx: render_configtx(t, fabric_version=spec.fabric_version, state=spec.state),
        spec.compose_file: spec.render_compose(),
        spec.state.chaincode_package(t.chaincode.label): spec.package,
    }
    if t.links.proxied:  # edge peers reach orderers through their link proxy (render/core.py)
        base = fabric_home(spec.fabric_version) / "config" / "core.yaml"
        if not base.is_file():
            raise EnvironmentProblem(f"Fabric {spec.fabric_version}'s core.yaml missing at {base}: run 'make images'")
        for org in t.edge_orgs:
            files[spec.state.link_core_yaml(org)] = render_edge_core(base.read_text(), t, t.peer_of(org))
    for path, content in files.items():
        _write_if_changed(path, content)
    return list(files)


def generate(spec: NetworkSpec, tools: FabricTools, progress: Progress = _quiet) -> None:
    """Rendered files, then crypto material and the genesis block (kept once made)."""
    marker = spec.state.root / "fabric-version"
    if marker.exists() and marker.read_text().strip() != spec.fabric_version:
        raise ConfigError(
            f"network {spec.project!r} was created with Fabric {marker.read_text().strip()}, not "
            f"{spec.fabric_version}: run 'make down' (or 'mecfab network down') before switching versions"
        )
    render(spec)
    if not spec.state.org_msp(spec.topology.orderer_org).is_dir():
        progress("generating crypto material (cryptogen)")
        tools.cryptogen(spec.state)
    block = spec.state.channel_block(spec.topology.channel)
    if not block.exists():
        progress(f"creating the genesis block of channel {spec.topology.channel!r} (configtxgen)")
        tools.genesis_block(spec.state, profile=PROFILE, channel=spec.topology.channel)
        marker.write_text(spec.fabric_version + "\n")


# ---- bring up ----------------------------------------------------------------------------------
def _wait(what: str, check: Callable[[], bool], *, timeout: float, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise NetworkError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _preflight(spec: NetworkSpec) -> tuple[object, FabricTools]:
    client = engine.connect()
    images = Images.for_version(spec.fabric_version)
    wanted = [images.peer, images.orderer, images.chaincode]
    if spec.topology.links.proxied:
        wanted.append(toxiproxy_image())
    missing = engine.missing_images(client, wanted)
    if missing:
        raise EnvironmentProblem(f"image(s) {', '.join(missing)} not built: run 'make images'")
    return client, FabricTools.locate(spec.fabric_version)


def up(spec: NetworkSpec, *, progress: Progress = _quiet, timeout: float = 180) -> None:
    """Start the network of ``spec`` with its channel and chaincode; harmless when already up."""
    _, tools = _preflight(spec)
    t = spec.topology
    generate(spec, tools, progress)
    compose = spec.compose()
    if not compose.running_services():
        ports = [p for n in t.nodes for p in (n.host_port, n.operations_port)]
        ports += [n.admin_port for n in t.orderers_nodes]
        if t.links.proxied:
            ports += [p for n in t.peer_nodes if n.org.name != t.cloud.name for p in (n.proxy_api_port, n.probe_port)]
        busy = engine.busy_ports(t.ports.bind, ports)
        if busy:
            raise EnvironmentProblem(
                f"host port(s) {', '.join(map(str, busy))} already in use: stop what holds them "
                f"or set ports.base in the topology (now {t.ports.base})"
            )
    progress(f"starting {len(t.nodes)} Fabric nodes and {len(t.peer_nodes)} chaincode servers")
    compose.up()
    for node in t.nodes:
        _wait(f"{node.host} /healthz", functools.partial(_healthy, t.ports.bind, node), timeout=timeout)
    _join_orderers(spec, tools, progress, timeout)
    _join_peers(spec, tools, progress)
    deploy_chaincode(spec, tools, progress)
    progress("waiting for the chaincode to answer on every peer")
    wait_chaincode_ready(spec, timeout=timeout)
    if t.links.on:
        from orchestrator.links.control import apply_topology_links

        progress(f"applying the topology's edge links ({t.links.backend})")
        for org, link in apply_topology_links(spec).items():
            progress(f"link of {org}: {link.describe()}")


def _healthy(bind: str, node: Node) -> bool:
    return metrics.healthz(bind, node.operations_port)[0]


def _join_orderers(spec: NetworkSpec, tools: FabricTools, progress: Progress, timeout: float) -> None:
    channel = spec.topology.channel
    for node in spec.topology.orderers_nodes:
        if channel not in tools.orderer_channels(spec.state, node):
            progress(f"joining {node.host} to channel {channel!r} (osnadmin)")
            tools.orderer_join(spec.state, node, channel)
    progress("waiting for a consensus leader")
    _wait("a consensus leader", lambda: len(raft_leaders(spec)) == 1, timeout=timeout)


def _consensus_metric(spec: NetworkSpec, name: str) -> str:
    """etcdraft and SmartBFT export the same gauges under their own prefix."""
    return f"consensus_{'BFT' if spec.topology.consensus == 'bft' else 'etcdraft'}_{name}"


def raft_leaders(spec: NetworkSpec) -> list[Node]:
    """Orderers that report themselves consensus leader (Raft leader or BFT primary)."""
    return [
        node
        for node in spec.topology.orderers_nodes
        if metrics.value(
            metrics.scrape(spec.topology.ports.bind, node.operations_port),
            _consensus_metric(spec, "is_leader"),
            channel=spec.topology.channel,
        )
        == 1
    ]


def _join_peers(spec: NetworkSpec, tools: FabricTools, progress: Progress) -> None:
    channel = spec.topology.channel
    block = str(spec.state.channel_block(channel))

    def join(peer: Node) -> None:
        if channel not in tools.peer_channels(spec.state, peer):
            tools.peer(spec.state, peer, ["channel", "join", "-b", block])

    progress(f"joining {len(spec.topology.peer_nodes)} peers to channel {channel!r}")
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(join, spec.topology.peer_nodes))


def _definition(spec: NetworkSpec) -> list[str]:
    cc = spec.topology.chaincode
    flags = ["-n", cc.name, "-v", cc.version, "--sequence", str(cc.sequence)]
    policy = spec.topology.endorsement_policy()
    if policy:
        flags += ["--signature-policy", policy]
    return flags


def deploy_chaincode(
    spec: NetworkSpec, tools: FabricTools, progress: Progress = _quiet, *, peers: Sequence[Node] | None = None
) -> None:
    """Install, approve and commit the chaincode with ``peer lifecycle``; skips what is done.
    ``peers``: only these orgs install, approve and endorse the commit (default: every peer org)."""
    t = spec.topology
    peers = list(peers or t.peer_nodes)
    channel, definition = t.channel, _definition(spec)
    state, pkg_id = spec.state, spec.package_id
    orderer = t.orderers_nodes[0]
    if tools.committed(state, peers[0], channel=channel, name=t.chaincode.name):
        committed = tools.committed(state, peers[0], channel=channel, name=t.chaincode.name) or {}
        if committed.get("sequence") == t.chaincode.sequence:
            progress(f"chaincode {t.chaincode.name} already committed")
            return

    def install_and_approve(peer: Node) -> None:
        if pkg_id not in tools.installed_packages(state, peer):
            tools.peer(
                state,
                peer,
                ["lifecycle", "chaincode", "install", str(state.chaincode_package(t.chaincode.label))],
                timeout=300,
            )
        approved = tools.approvals(state, peer, channel=channel, definition=definition)
        if not approved.get(peer.org.msp_id):
            tools.peer(
                state,
                peer,
                [
                    "lifecycle",
                    "chaincode",
                    "approveformyorg",
                    "-C",
                    channel,
                    *definition,
                    "--package-id",
                    pkg_id,
                    *tools.orderer_flags(state, orderer),
                ],
            )

    progress(f"installing and approving chaincode {t.chaincode.label} on {len(peers)} orgs")
    with ThreadPoolExecutor(max_workers=len(peers)) as pool:
        list(pool.map(install_and_approve, peers))
    progress(f"committing chaincode {t.chaincode.name} on channel {channel!r}")
    tools.peer(
        state,
        peers[0],
        [
            "lifecycle",
            "chaincode",
            "commit",
            "-C",
            channel,
            *definition,
            *tools.orderer_flags(state, orderer),
            *org_admin_flags(state, peers),
        ],
    )


def wait_chaincode_ready(spec: NetworkSpec, *, timeout: float, orgs: Sequence[Org] | None = None) -> None:
    """Every org's gateway reaches the chaincode on every org's peer: the chaincode answers and
    gossip has spread membership across orgs (the Gateway picks endorsers from that view).
    ``orgs``: only these (default: every peer org)."""
    from orchestrator.ledger import Ledger  # the gateway client is only needed from here on

    orgs = list(orgs or spec.topology.peer_orgs)
    targets = [org.msp_id for org in orgs]

    def ready(org_name: str) -> bool:
        try:
            with Ledger.connect(spec, org_name) as ledger:
                for target in targets:
                    ledger.contract.evaluate("ListEdges", target_orgs=[target])
            return True
        except Exception as exc:
            log.debug("chaincode not ready from %s: %s", org_name, exc)
            return False

    for org in orgs:
        _wait(
            f"chaincode on every peer, seen from {org.name}",
            functools.partial(ready, org.name),
            timeout=timeout,
            interval=0.5,
        )


# ---- status and down ---------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeStatus:
    host: str
    role: str
    org: str
    container: str  # running, exited, missing ...
    healthy: bool
    health_detail: str
    height: int | None
    leader: bool | None = None


@dataclass(frozen=True)
class Status:
    project: str
    channel: str
    fabric_version: str
    nodes: list[NodeStatus] = field(default_factory=list)
    chaincode: dict[str, object] | None = None

    @property
    def leaders(self) -> list[str]:
        return [n.host for n in self.nodes if n.leader]


def status(spec: NetworkSpec) -> Status:
    client = engine.connect()
    states = {
        c.labels.get("com.docker.compose.service", ""): c.status
        for c in engine.project_containers(client, spec.project)
    }
    t = spec.topology
    nodes = []
    for node in t.nodes:
        samples = metrics.scrape(t.ports.bind, node.operations_port)
        healthy, detail = metrics.healthz(t.ports.bind, node.operations_port)
        if node.is_orderer:
            committed = metrics.value(samples, _consensus_metric(spec, "committed_block_number"), channel=t.channel)
            height = int(committed) + 1 if committed is not None else None
            leader = metrics.value(samples, _consensus_metric(spec, "is_leader"), channel=t.channel)
            nodes.append(
                NodeStatus(
                    node.host,
                    "orderer",
                    node.org.name,
                    states.get(node.host, "missing"),
                    healthy,
                    detail,
                    height,
                    leader == 1 if leader is not None else None,
                )
            )
        else:
            h = metrics.value(samples, "ledger_blockchain_height", channel=t.channel)
            nodes.append(
                NodeStatus(
                    node.host,
                    "peer",
                    node.org.name,
                    states.get(node.host, "missing"),
                    healthy,
                    detail,
                    int(h) if h is not None else None,
                )
            )
    chaincode = None
    if any(n.container == "running" for n in nodes if n.role == "peer"):
        try:
            tools = FabricTools.locate(spec.fabric_version)
            chaincode = tools.committed(spec.state, t.peer_nodes[0], channel=t.channel, name=t.chaincode.name)
        except (NetworkError, EnvironmentProblem) as exc:
            log.debug("querycommitted failed: %s", exc)
    return Status(spec.project, t.channel, spec.fabric_version, nodes, chaincode)


def down(spec: NetworkSpec, *, progress: Progress = _quiet, keep_state: bool = False) -> None:
    """Remove every container, network and volume of the project, and its generated files."""
    progress(f"removing compose project {spec.project!r} (containers, network, volumes)")
    client = engine.connect()
    try:
        if spec.compose_file.exists():
            spec.compose().down()
    finally:
        # whatever compose managed (or not, with a broken file), nothing labelled stays behind
        leftovers = engine.remove_project(client, spec.project)
        if leftovers:
            log.info("removed %d leftover objects of %s by label", leftovers, spec.project)
    if not keep_state and spec.state.root.exists():
        shutil.rmtree(spec.state.root)
        progress(f"removed {spec.state.root}")
