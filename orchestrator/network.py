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

from orchestrator import consensus_health, engine, metrics, swarm
from orchestrator.agent_secret import ensure_secret
from orchestrator.errors import ConfigError, EnvironmentProblem, NetworkError
from orchestrator.fabric_tools import FabricTools, ToolError, org_admin_flags, retry
from orchestrator.paths import StateDir, fabric_home
from orchestrator.render import ccaas_package, package_id, render_compose, render_configtx, render_crypto_config
from orchestrator.render.configtx import PROFILE
from orchestrator.render.core import render_edge_core
from orchestrator.render.swarm import STACK_FILE, PublishMode, render_swarm
from orchestrator.topology import DEFAULT_TOPOLOGY, REPO_ROOT, Node, Org, OrgKind, Topology, load_topology
from orchestrator.versions import Images, fabric_version, toxiproxy_image

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
# What ``up`` reports to its ``on_step`` callback, in order, as each step completes.
UP_STEPS = ("artifacts", "containers", "healthy", "orderers", "peers", "chaincode", "ready")
DEFAULT_PROJECT = "mecfab"
DEFAULT_SWARM_PROJECT = "mecfab-swarm"  # its own state dir: never the compose network's
TARGETS = ("compose", "swarm")
DEFAULT_COMPOSE = REPO_ROOT / "docker-compose.yaml"


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class NetworkSpec:
    """Which network: its topology, compose project, compose file and state directory.
    ``target``: started by Docker Compose, or deployed as a Docker Swarm stack (``stack_file``;
    ``pin_orgs`` and ``publish`` only matter there, see ``orchestrator.render.swarm``)."""

    topology: Topology
    project: str
    compose_file: Path
    state: StateDir
    fabric_version: str
    target: str = "compose"
    pin_orgs: bool = False
    publish: PublishMode = "host"

    @classmethod
    def default(
        cls,
        *,
        topology_file: Path | None = None,
        edges: int | None = None,
        orderers: int | None = None,
        version: str | None = None,
        consensus: str | None = None,
        target: str = "compose",
        pin_orgs: bool = False,
        publish: PublishMode = "host",
    ) -> NetworkSpec:
        """The user's network. The committed ``docker-compose.yaml`` serves the default topology;
        any other topology gets its compose file inside its state directory. The swarm target is
        project ``mecfab-swarm``, with its own state directory."""
        if target not in TARGETS:
            raise ConfigError(f"unknown target {target!r}: use {' or '.join(TARGETS)}")
        project = DEFAULT_SWARM_PROJECT if target == "swarm" else DEFAULT_PROJECT
        state = StateDir(REPO_ROOT / ".mecfab" / project)
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
        compose = DEFAULT_COMPOSE if is_default and target == "compose" else state.root / "docker-compose.yaml"
        return cls(topology, project, compose, state, fabric_version(version), target, pin_orgs, publish)

    @classmethod
    def isolated(
        cls,
        root: Path,
        *,
        project: str,
        topology: Topology,
        version: str | None = None,
        target: str = "compose",
        pin_orgs: bool = False,
        publish: PublishMode = "host",
    ) -> NetworkSpec:
        """A self-contained network (tests): everything under ``root``, its own project name."""
        state, version = StateDir(root), fabric_version(version)
        return cls(topology, project, root / "docker-compose.yaml", state, version, target, pin_orgs, publish)

    @property
    def stack_file(self) -> Path:
        """The swarm target's stack file (its crypto paths are relative to the state directory)."""
        return self.state.root / STACK_FILE

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

    def render_stack(self) -> str:
        return render_swarm(
            self.topology,
            project=self.project,
            state=self.state,
            package_id=self.package_id,
            fabric_version=self.fabric_version,
            pin_orgs=self.pin_orgs,
            publish=self.publish,
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
        **(
            {spec.stack_file: spec.render_stack()}
            if spec.target == "swarm"
            else {spec.compose_file: spec.render_compose()}
        ),
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
    for org in spec.topology.edge_orgs:  # the agents' containers mount them (compose profile "agents")
        ensure_secret(spec.state.agent_secret(org))
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


def required_images(spec: NetworkSpec) -> list[str]:
    """The images the network's containers run (what ``up`` checks the engine has): peer, orderer,
    chaincode server, and the link proxy when edges' links are proxied (compose only)."""
    images = Images.for_version(spec.fabric_version)
    wanted = [images.peer, images.orderer, images.chaincode]
    if spec.topology.links.proxied:
        wanted.append(toxiproxy_image())
    return wanted


def _preflight(spec: NetworkSpec) -> tuple[object, FabricTools]:
    client = engine.connect()
    missing = engine.missing_images(client, required_images(spec))
    if missing:
        raise EnvironmentProblem(f"image(s) {', '.join(missing)} not built: run 'make images'")
    return client, FabricTools.locate(spec.fabric_version)


def up(
    spec: NetworkSpec,
    *,
    progress: Progress = _quiet,
    timeout: float = 180,
    on_step: Callable[[str], None] = _quiet,
) -> None:
    """Start the network of ``spec`` with its channel and chaincode; harmless when already up.
    ``on_step`` is called with each name of :data:`UP_STEPS` as that step completes (timing)."""
    if spec.target == "swarm":
        swarm.require_manager(engine.connect())  # before anything is written or deployed
    _, tools = _preflight(spec)
    generate(spec, tools, progress)
    on_step("artifacts")
    if spec.target == "swarm":
        swarm.deploy(spec, progress=progress, timeout=timeout)
    else:
        _compose_up(spec, progress)
    on_step("containers")
    configure(spec, tools, progress=progress, timeout=timeout, on_step=on_step)


def _compose_up(spec: NetworkSpec, progress: Progress) -> None:
    t = spec.topology
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


def configure(
    spec: NetworkSpec,
    tools: FabricTools,
    *,
    progress: Progress = _quiet,
    timeout: float = 180,
    on_step: Callable[[str], None] = _quiet,
) -> None:
    """What follows the containers, whoever started them (compose or swarm): every node healthy,
    orderers and peers on the channel, the chaincode committed and answering. Talks to the nodes
    through their host ports only."""
    t = spec.topology
    for node in t.nodes:
        _wait(f"{node.host} /healthz", functools.partial(_healthy, t.ports.bind, node), timeout=timeout)
    on_step("healthy")
    _join_orderers(spec, tools, progress, timeout)
    on_step("orderers")
    _join_peers(spec, tools, progress)
    on_step("peers")
    usable = _usable_peers(spec, progress)
    deploy_chaincode(spec, tools, progress, peers=None if len(usable) == len(t.peer_nodes) else usable)
    on_step("chaincode")
    progress("waiting for the chaincode to answer on every peer")
    wait_chaincode_ready(spec, timeout=timeout, orgs=[p.org for p in usable])
    if t.links.on:
        from orchestrator.links.control import apply_topology_links

        progress(f"applying the topology's edge links ({t.links.backend})")
        for org, link in apply_topology_links(spec).items():
            progress(f"link of {org}: {link.describe()}")
    on_step("ready")


def _usable_peers(spec: NetworkSpec, progress: Progress) -> list[Node]:
    """Every peer but those of orgs revoked with ``mecfab edge revoke`` (they can no longer endorse)."""
    from orchestrator.membership import revoked_locally

    revoked = revoked_locally(spec.state, spec.topology)
    if revoked:
        progress(f"skipping revoked org(s) {', '.join(sorted(revoked))}: their peers cannot endorse")
    return [p for p in spec.topology.peer_nodes if p.org.msp_id not in revoked]


def _healthy(bind: str, node: Node) -> bool:
    return metrics.healthz(bind, node.operations_port)[0]


def _join_orderers(spec: NetworkSpec, tools: FabricTools, progress: Progress, timeout: float) -> None:
    channel = spec.topology.channel

    def join(node: Node) -> None:
        if channel not in tools.orderer_channels(spec.state, node):
            progress(f"joining {node.host} to channel {channel!r} (osnadmin)")
            tools.orderer_join(spec.state, node, channel)

    # a node that just became healthy may still reset its first admin connections: retried
    _parallel(lambda node: retry(f"osnadmin join {node.host}", lambda: join(node)), spec.topology.orderers_nodes)
    progress("waiting for a consensus leader")
    try:
        _wait("a consensus leader", lambda: len(raft_leaders(spec)) == 1, timeout=timeout)
    except NetworkError as exc:
        hint = _dns_hint(spec)
        raise NetworkError(f"{exc}{hint}") from None


def _dns_hint(spec: NetworkSpec) -> str:
    """Why orderers found no leader, when their logs say: Docker's embedded DNS not resolving the
    nodes' names (seen on a daemon whose swarm state changed while the network was created)."""
    try:
        client = engine.connect()
        for container in engine.project_containers(client, spec.project):
            if container.labels.get("mecfab.role") == "orderer":
                if b"no such host" in container.logs(tail=200):
                    return (
                        f": {container.name} cannot resolve the other nodes' names (Docker's DNS answers "
                        "'no such host'); take the network down and up again, or restart dockerd"
                    )
                break
    except Exception as exc:  # only a hint: never hide the timeout itself
        log.debug("no DNS hint: %s", exc)
    return ""


def raft_leaders(spec: NetworkSpec) -> list[Node]:
    """Orderers that lead (Raft leader or BFT primary; see :func:`consensus_health.leaders`)."""
    t = spec.topology
    leading = {s.name for s in consensus_health.leaders(_consenter_samples(spec), consensus=t.consensus)}
    return [node for node in t.orderers_nodes if node.short in leading]


def _consenter_samples(spec: NetworkSpec) -> list[consensus_health.ConsenterSample]:
    return [consensus_health.sample(spec.topology, node) for node in spec.topology.orderers_nodes]


# Parallel node calls (peer CLI processes, gateway connections) at most: enough for 32 edges at once.
PARALLEL_MAX = 40


def _parallel(fn: Callable[[Node], None], nodes: Sequence[Node]) -> None:
    """``fn`` on every node at once (each call mostly waits on a node); the first error is raised."""
    if not nodes:
        return
    with ThreadPoolExecutor(max_workers=min(len(nodes), PARALLEL_MAX)) as pool:
        list(pool.map(fn, nodes))


def _done_already(still_missing: Callable[[], bool]) -> Callable[[ToolError], None]:
    """For an idempotent step done act-first (one CLI call, not check-then-act): when the act
    fails, the step is fine if the check now finds it done (e.g. a second ``up``); else re-raise."""

    def handle(exc: ToolError) -> None:
        if still_missing():
            raise exc

    return handle


def _join_peers(spec: NetworkSpec, tools: FabricTools, progress: Progress) -> None:
    channel = spec.topology.channel
    block = str(spec.state.channel_block(channel))

    def join(peer: Node) -> None:
        try:
            tools.peer(spec.state, peer, ["channel", "join", "-b", block])
        except ToolError as exc:  # already joined (a second `up`)?
            _done_already(lambda: channel not in tools.peer_channels(spec.state, peer))(exc)

    progress(f"joining {len(spec.topology.peer_nodes)} peers to channel {channel!r}")
    _parallel(lambda peer: retry(f"peer channel join {peer.host}", lambda: join(peer)), spec.topology.peer_nodes)


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
    # The whole network (no ``peers``): a majority of the orgs endorses the commit, which is what the
    # channel's LifecycleEndorsement (MAJORITY) asks; the peer CLI asks its endorsers one after the
    # other and waits for the block on each, and the others are covered by wait_chaincode_ready.
    committers = list(peers or t.peer_nodes[: len(t.peer_nodes) // 2 + 1])
    peers = list(peers or t.peer_nodes)
    channel, definition = t.channel, _definition(spec)
    state, pkg_id = spec.state, spec.package_id
    orderer = t.orderers_nodes[0]
    committed = tools.committed(state, peers[0], channel=channel, name=t.chaincode.name)
    if committed and committed.get("sequence") == t.chaincode.sequence:
        progress(f"chaincode {t.chaincode.name} already committed")
        return

    # Act first, check only when the act fails: one peer CLI call per step and org, not two.
    def install_and_approve(peer: Node) -> None:
        try:
            tools.peer(
                state,
                peer,
                ["lifecycle", "chaincode", "install", str(state.chaincode_package(t.chaincode.label))],
                timeout=300,
            )
        except ToolError as exc:  # already installed?
            _done_already(lambda: pkg_id not in tools.installed_packages(state, peer))(exc)
        try:
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
        except ToolError as exc:  # already approved (same definition)?
            _done_already(
                lambda: not tools.approvals(state, peer, channel=channel, definition=definition).get(peer.org.msp_id)
            )(exc)

    progress(f"installing and approving chaincode {t.chaincode.label} on {len(peers)} orgs")
    _parallel(install_and_approve, peers)
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
            *org_admin_flags(state, committers),
        ],
    )


def wait_chaincode_ready(spec: NetworkSpec, *, timeout: float, orgs: Sequence[Org] | None = None) -> None:
    """Every org's gateway reaches the chaincode on every org's peer: the chaincode answers and
    gossip has spread membership across orgs (the Gateway picks endorsers from that view).
    ``orgs``: only these (default: every peer org)."""
    from orchestrator.ledger import Ledger  # the gateway client is only needed from here on

    orgs = list(orgs or spec.topology.peer_orgs)
    targets = [org.msp_id for org in orgs]

    # N orgs × N targets evaluations: every org is checked at once, and a pair that answered is
    # never asked again (a retry only asks the targets still missing).
    def reaches_every_org(peer: Node) -> None:
        pending = list(targets)

        def ready() -> bool:
            try:
                with Ledger.connect(spec, peer.org.name) as ledger:
                    while pending:
                        ledger.contract.evaluate("ListEdges", target_orgs=[pending[0]])
                        pending.pop(0)
                return True
            except Exception as exc:
                log.debug("chaincode on %s not ready from %s: %s", pending[:1], peer.org.name, exc)
                return False

        _wait(f"chaincode on every peer, seen from {peer.org.name}", ready, timeout=timeout, interval=0.5)

    _parallel(reaches_every_org, [spec.topology.peer_of(org) for org in orgs])


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
    if spec.target == "swarm":
        states = swarm.container_states(client, spec.project, [n.host for n in spec.topology.nodes])
    else:
        states = {
            c.labels.get("com.docker.compose.service", ""): c.status
            for c in engine.project_containers(client, spec.project)
        }
    t = spec.topology
    consenters = {s.name: s for s in _consenter_samples(spec)}
    leading = {s.name for s in consensus_health.leaders(list(consenters.values()), consensus=t.consensus)}
    nodes = []
    for node in t.nodes:
        healthy, detail = metrics.healthz(t.ports.bind, node.operations_port)
        if node.is_orderer:
            consenter = consenters[node.short]
            height = consenter.committed + 1 if consenter.committed is not None else None
            nodes.append(
                NodeStatus(
                    node.host,
                    "orderer",
                    node.org.name,
                    states.get(node.host, "missing"),
                    healthy,
                    detail,
                    height,
                    node.short in leading if consenter.answered else None,
                )
            )
        else:
            samples = metrics.scrape(t.ports.bind, node.operations_port)
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


def free_port_base(topology: Topology, *, start: int, stop: int = 32000, step: int = 500) -> int:
    """The first port base from ``start`` on at which none of ``topology``'s host ports is taken.
    Bases stay below 32768, where Linux picks ephemeral client ports: a port that a closed client
    connection still holds (TIME_WAIT) cannot be published by Docker."""
    for base in range(start, stop, step):
        t = topology.with_overrides(port_base=base)
        ports = [p for n in t.nodes for p in (n.host_port, n.operations_port)]
        ports += [n.admin_port for n in t.orderers_nodes]
        ports += [n.agent_port for n in t.peer_nodes if n.org.kind is OrgKind.EDGE]
        if max(ports) < stop and not engine.busy_ports(t.ports.bind, ports):
            return base
    raise NetworkError(f"no free block of host ports between {start} and {stop} on {topology.ports.bind}")


def down(spec: NetworkSpec, *, progress: Progress = _quiet, keep_state: bool = False) -> None:
    """Remove every container, network and volume of the project, and its generated files."""
    client = engine.connect()
    if spec.target == "swarm":
        swarm.remove(client, spec.project, progress=progress)
        _remove_state(spec, progress, keep_state=keep_state)
        return
    progress(f"removing compose project {spec.project!r} (containers, network, volumes)")
    try:
        if spec.compose_file.exists():
            spec.compose().down()
    finally:
        # whatever compose managed (or not, with a broken file), nothing labelled stays behind
        leftovers = engine.remove_project(client, spec.project)
        if leftovers:
            log.info("removed %d leftover objects of %s by label", leftovers, spec.project)
    _remove_state(spec, progress, keep_state=keep_state)


def _remove_state(spec: NetworkSpec, progress: Progress, *, keep_state: bool) -> None:
    if not keep_state and spec.state.root.exists():
        shutil.rmtree(spec.state.root)
        progress(f"removed {spec.state.root}")
