"""The network topology as typed data: read from ``network/topology.yaml``, derived into nodes.

Nothing here renders files or talks to Docker; ``orchestrator.render`` and
``orchestrator.docker`` consume the :class:`Topology` this module builds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orchestrator.errors import ConfigError
from orchestrator.links.settings import LinkSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TOPOLOGY = REPO_ROOT / "network" / "topology.yaml"

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,31}$")
_DURATION = re.compile(r"^\d+(ms|s|m)$")

# Ports inside every container: each node has its own address, so they never clash.
PEER_PORT = 7051
PEER_CHAINCODE_PORT = 7052
ORDERER_PORT = 7050
ORDERER_ADMIN_PORT = 7053
OPERATIONS_PORT = 9443
CHAINCODE_SERVER_PORT = 9999


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


RAFT_SIZES = (3, 5)
Consensus = Literal["etcdraft", "bft"]
CONSENSUS_TYPES: tuple[str, ...] = get_args(Consensus)
BFT_SIZES = (4, 7)  # 3f+1 consenters tolerate f byzantine faults
# Orderers added at run time get host-port slots from 40 on: slots 0-39 hold up to 7 initial
# orderers and 33 peers, so no node's ports move when the orderer set changes.
EXTRA_ORDERER_SLOT = 40
EXTRA_ORDERER_SLOTS = 9


class OrdererSpec(_Strict):
    count: int = 3  # etcdraft: 3 or 5; bft: 4 or 7 (4 by default)
    batch_timeout: str = "250ms"
    max_message_count: int = Field(100, ge=1, le=10_000)
    absolute_max_bytes: str = "10 MB"
    preferred_max_bytes: str = "2 MB"
    tick_interval: str = "500ms"
    election_tick: int = Field(10, ge=2)
    heartbeat_tick: int = Field(1, ge=1)
    # Changed on a running network by `mecfab orderer add/remove` (orchestrator.membership):
    # orderers added after the first `count` (orderer{count+1}, ...) and orderer numbers removed.
    added: int = Field(0, ge=0, le=EXTRA_ORDERER_SLOTS)
    removed: list[int] = Field(default_factory=list)

    @field_validator("batch_timeout", "tick_interval")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise ValueError(f"{value!r} is not a duration like 250ms, 2s or 1m")
        return value


class PeerSpec(_Strict):
    """Go runtime settings of every peer: trade CPU (more frequent garbage collection) for memory.
    Unset (the default): Go's own (GOGC 100, no soft memory limit)."""

    go_memory_limit: str | None = Field(
        None, pattern=r"^[1-9][0-9]{0,5}(B|KiB|MiB|GiB)$", description="GOMEMLIMIT, e.g. 100MiB (a soft limit)"
    )
    gogc: int | None = Field(None, ge=10, le=1000, description="GOGC: heap growth % before a collection")

    def environment(self) -> dict[str, str]:
        env = {}
        if self.go_memory_limit is not None:
            env["GOMEMLIMIT"] = self.go_memory_limit
        if self.gogc is not None:
            env["GOGC"] = str(self.gogc)
        return env


class CloudSpec(_Strict):
    name: str = "Cloud"


class EdgeServerSpec(_Strict):
    """What one edge server offers to the task-sharing workflow (its agent container)."""

    cpus: float = Field(1.0, gt=0, le=64, description="CPU limit of the agent container [cores]")
    memory_mb: int = Field(256, ge=128, le=65536, description="memory limit of the agent container [MiB]")
    price_per_gigacycle: int = Field(30, ge=1, le=1_000_000, description="asking price [credits per 1e9 cycles]")
    background_load: float = Field(0.0, ge=0, lt=1, description="share of its CPU a background job keeps busy [-]")
    background_period_s: float = Field(
        0.0, ge=0, le=3600, description="0: constant background load; else on for half of each period [s]"
    )


# Edges that `edges.servers` does not list get these in turn (Edge1 the first, Edge5 the first
# again), so that the default network's edges differ in CPU, price and background load.
DEFAULT_EDGE_SERVERS: tuple[EdgeServerSpec, ...] = (
    EdgeServerSpec(cpus=1.0, price_per_gigacycle=40),
    EdgeServerSpec(cpus=0.5, price_per_gigacycle=20),
    EdgeServerSpec(cpus=1.0, price_per_gigacycle=30, background_load=0.4, background_period_s=20),
    EdgeServerSpec(cpus=0.75, price_per_gigacycle=25, background_load=0.1),
)
_EDGE_NAME = re.compile(r"^Edge[1-9][0-9]?$")


class EdgesSpec(_Strict):
    count: int = Field(4, ge=1, le=32)
    # Optional, by edge name (Edge1, Edge2, ...): capacity, price and background load of its agent.
    servers: dict[str, EdgeServerSpec] = Field(default_factory=dict)
    # Edge numbers removed by `mecfab edge remove` (orchestrator.membership); `edge add` raises count.
    removed: list[int] = Field(default_factory=list)

    @field_validator("servers")
    @classmethod
    def _server_names(cls, value: dict[str, EdgeServerSpec]) -> dict[str, EdgeServerSpec]:
        for name in value:
            if not _EDGE_NAME.match(name):
                raise ValueError(f"edges.servers key {name!r} must be an edge name like Edge1")
        return value


class ChaincodeSpec(_Strict):
    name: str = Field("mectask", pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    version: str = Field("1.0", pattern=r"^[A-Za-z0-9._-]{1,32}$")
    sequence: int = Field(1, ge=1)
    # "any": one peer of any member org endorses (the contract checks who may write what);
    # "majority": the channel's MAJORITY Endorsement policy.
    endorsement: Literal["any", "majority"] = "any"

    @property
    def label(self) -> str:
        return f"{self.name}_{self.version}"


class PortsSpec(_Strict):
    base: int = Field(7000, ge=1024, le=60000)
    # The address host ports are published on, and where host-side clients (the Fabric CLI tools,
    # the gateway, metrics scrapes) reach the nodes: the loopback, or e.g. the address of a Docker
    # engine in its own network namespace (orchestrator.netns_engine). Every TLS certificate names it.
    bind: str = "127.0.0.1"


LinkBackendName = Literal["toxiproxy", "netem"]


class LinksSpec(_Strict):
    """Emulated edge links (issue 11). With backend toxiproxy, ``enabled`` (or any entry in
    ``edges``) puts a proxy in front of every edge peer; with netem, tc runs in the peer's netns."""

    enabled: bool = False
    backend: LinkBackendName = "toxiproxy"
    edges: dict[str, LinkSpec] = Field(default_factory=dict)

    @field_validator("edges")
    @classmethod
    def _edge_names(cls, value: dict[str, LinkSpec]) -> dict[str, LinkSpec]:
        for name in value:
            if not _EDGE_NAME.match(name):
                raise ValueError(f"links.edges key {name!r} must be an edge name like Edge1")
        return value

    @property
    def on(self) -> bool:
        return self.enabled or bool(self.edges)

    @property
    def proxied(self) -> bool:
        """Whether the edges' traffic runs through Toxiproxy sidecars."""
        return self.on and self.backend == "toxiproxy"


class Topology(_Strict):
    name: str = Field("mec", pattern=r"^[a-z][a-z0-9-]{0,30}$")
    domain: str = Field("mec", pattern=r"^[a-z][a-z0-9.-]{0,60}$")
    channel: str = Field("mec", pattern=r"^[a-z][a-z0-9.-]{0,248}$")
    consensus: Consensus = "etcdraft"
    orderers: OrdererSpec = OrdererSpec()
    peers: PeerSpec = PeerSpec()
    cloud: CloudSpec = CloudSpec()
    edges: EdgesSpec = EdgesSpec()
    chaincode: ChaincodeSpec = ChaincodeSpec()
    ports: PortsSpec = PortsSpec()
    links: LinksSpec = LinksSpec()

    @model_validator(mode="before")
    @classmethod
    def _bft_default_size(cls, data: Any) -> Any:
        """consensus: bft without an orderer count means 4 consenters (f = 1)."""
        if isinstance(data, dict) and data.get("consensus") == "bft":
            orderers = dict(data.get("orderers") or {})
            orderers.setdefault("count", BFT_SIZES[0])
            return {**data, "orderers": orderers}
        return data

    @model_validator(mode="after")
    def _orderer_count_fits_consensus(self) -> Topology:
        o, e = self.orderers, self.edges
        if not set(e.removed) <= set(range(1, e.count + 1)):
            raise ValueError(f"edges.removed {e.removed} must name edges 1..{e.count}")
        edge_names = {f"Edge{i}" for i in range(1, e.count + 1) if i not in e.removed}
        unknown = sorted(set(self.links.edges) - edge_names)
        if unknown:
            raise ValueError(f"links.edges names {', '.join(unknown)}, not an edge of this topology")
        if o.added or o.removed:  # an orderer set changed at run time: any size from one
            if not set(o.removed) < set(range(1, o.count + o.added + 1)):
                raise ValueError(f"orderers.removed {o.removed} must leave one of orderers 1..{o.count + o.added}")
            return self
        sizes = BFT_SIZES if self.consensus == "bft" else RAFT_SIZES
        if self.orderers.count not in sizes:
            raise ValueError(
                f"orderers.count {self.orderers.count} does not fit consensus {self.consensus}: "
                f"use {' or '.join(map(str, sizes))}"
            )
        return self

    @field_validator("cloud")
    @classmethod
    def _cloud_name(cls, value: CloudSpec) -> CloudSpec:
        if not _NAME.match(value.name):
            raise ValueError(f"org name {value.name!r} must be letters and digits, starting with a letter")
        return value

    # ---- derived views -------------------------------------------------------------------
    def with_overrides(
        self,
        *,
        edges: int | None = None,
        orderers: int | None = None,
        port_base: int | None = None,
        consensus: str | None = None,
        bind: str | None = None,
    ) -> Topology:
        """A copy with the command-line overrides applied (validated like the file). ``bind``: the
        address host ports are published on and reached at (``ports.bind``)."""
        data = self.model_dump()
        if edges is not None:
            data["edges"]["count"] = edges
        if orderers is not None:
            data["orderers"]["count"] = orderers
        if port_base is not None:
            data["ports"]["base"] = port_base
        if bind is not None:
            data["ports"]["bind"] = bind
        if consensus is not None:
            data["consensus"] = consensus
            if orderers is None and consensus != self.consensus:
                data["orderers"]["count"] = (BFT_SIZES if consensus == "bft" else RAFT_SIZES)[0]
        return _validate(data, source="command-line overrides")

    @property
    def orderer_org(self) -> Org:
        return Org(name="Orderer", kind=OrgKind.ORDERER, domain=f"orderer.{self.domain}")

    @property
    def peer_orgs(self) -> tuple[Org, ...]:
        cloud = Org(name=self.cloud.name, kind=OrgKind.CLOUD, domain=f"{self.cloud.name.lower()}.{self.domain}")
        edges = tuple(
            Org(name=f"Edge{i}", kind=OrgKind.EDGE, domain=f"edge{i}.{self.domain}")
            for i in range(1, self.edges.count + 1)
            if i not in self.edges.removed
        )
        return (cloud, *edges)

    @property
    def orgs(self) -> tuple[Org, ...]:
        return (self.orderer_org, *self.peer_orgs)

    def org(self, name: str) -> Org:
        """Look an org up by name (case-insensitive) or MSP ID; a clear error otherwise."""
        for org in self.orgs:
            if name.lower() in (org.name.lower(), org.msp_id.lower()):
                return org
        known = ", ".join(o.name for o in self.orgs)
        raise ConfigError(f"unknown org {name!r}: this network has {known}")

    @property
    def orderers_nodes(self) -> tuple[Node, ...]:
        org = self.orderer_org
        o = self.orderers
        return tuple(
            Node(
                org=org,
                short=f"orderer{i}",
                index=i - 1 if i <= o.count else EXTRA_ORDERER_SLOT + i - o.count - 1,
                ports_base=self.ports.base,
                bind=self.ports.bind,
            )
            for i in range(1, o.count + o.added + 1)
            if i not in o.removed
        )

    @property
    def peer_nodes(self) -> tuple[Node, ...]:
        start = self.orderers.count  # Cloud, then Edge i at start + i: removed edges keep their slot
        return tuple(
            Node(
                org=org,
                short="peer0",
                index=start + (int(org.name.removeprefix("Edge")) if org.kind is OrgKind.EDGE else 0),
                ports_base=self.ports.base,
                bind=self.ports.bind,
            )
            for org in self.peer_orgs
        )

    @property
    def nodes(self) -> tuple[Node, ...]:
        return (*self.orderers_nodes, *self.peer_nodes)

    def endorsement_policy(self) -> str | None:
        """The chaincode's signature policy for ``peer lifecycle``; None means the channel default."""
        if self.chaincode.endorsement == "majority":
            return None
        return "OR(" + ", ".join(f"'{org.msp_id}.peer'" for org in self.peer_orgs) + ")"

    def edge_server(self, org: Org) -> EdgeServerSpec:
        """The agent profile of an edge org: ``edges.servers[name]``, else the default cycle."""
        if org.kind is not OrgKind.EDGE:
            raise ConfigError(f"{org.name} is not an edge org: only edges run an agent")
        explicit = self.edges.servers.get(org.name)
        if explicit is not None:
            return explicit
        index = int(org.name.removeprefix("Edge")) - 1
        return DEFAULT_EDGE_SERVERS[index % len(DEFAULT_EDGE_SERVERS)]

    @property
    def edge_orgs(self) -> tuple[Org, ...]:
        return tuple(o for o in self.peer_orgs if o.kind is OrgKind.EDGE)

    def peer_endpoint(self, node: Node) -> str:
        """host:port other orgs, gateways and gossip use for a peer: its link proxy when proxied."""
        if self.links.proxied and node.org.kind is OrgKind.EDGE:
            return f"{node.proxy_host}:{PEER_PORT}"
        return f"{node.host}:{PEER_PORT}"

    def peer_of(self, org: Org) -> Node:
        for node in self.peer_nodes:
            if node.org == org:
                return node
        raise ConfigError(f"org {org.name} has no peer")


class OrgKind(StrEnum):
    ORDERER = "orderer"
    CLOUD = "cloud"
    EDGE = "edge"


@dataclass(frozen=True)
class Org:
    name: str
    kind: OrgKind
    domain: str

    @property
    def msp_id(self) -> str:
        return f"{self.name}MSP"

    @property
    def is_peer_org(self) -> bool:
        return self.kind is not OrgKind.ORDERER


@dataclass(frozen=True)
class Node:
    """One orderer or peer, with its host name and host ports."""

    org: Org
    short: str  # "orderer1" or "peer0"
    index: int  # position in the topology: decides the host ports
    ports_base: int
    bind: str = "127.0.0.1"  # the topology's ports.bind: where host-side clients reach its ports

    @property
    def host(self) -> str:
        return f"{self.short}.{self.org.domain}"

    @property
    def is_orderer(self) -> bool:
        return self.org.kind is OrgKind.ORDERER

    @property
    def container_port(self) -> int:
        return ORDERER_PORT if self.is_orderer else PEER_PORT

    @property
    def host_port(self) -> int:
        """The node's main gRPC port (peer or orderer service) on the host."""
        return self.ports_base + 10 * self.index

    @property
    def endpoint(self) -> str:
        """``address:port`` of the node's main gRPC port, as host-side clients reach it."""
        return f"{self.bind}:{self.host_port}"

    @property
    def admin_endpoint(self) -> str:
        """``address:port`` of the orderer's channel-participation admin endpoint."""
        return f"{self.bind}:{self.admin_port}"

    @property
    def operations_port(self) -> int:
        return self.host_port + 1

    @property
    def admin_port(self) -> int:
        """The orderer's channel-participation admin endpoint on the host."""
        if not self.is_orderer:
            raise ConfigError(f"{self.host} is a peer: it has no orderer admin endpoint")
        return self.host_port + 2

    @property
    def chaincode_host(self) -> str:
        """Host name of this peer org's chaincode-as-a-service container."""
        return f"cc.{self.org.domain}"

    @property
    def agent_host(self) -> str:
        """Host name of this edge org's agent container."""
        return f"agent.{self.org.domain}"

    @property
    def proxy_host(self) -> str:
        """Host name of this edge's link proxy (Toxiproxy sidecar)."""
        return f"proxy.{self.org.domain}"

    @property
    def proxy_api_port(self) -> int:
        """The link proxy's HTTP API on the host (edge peers with proxied links)."""
        return self.host_port + 4

    @property
    def probe_port(self) -> int:
        """The link probe's echo service through the proxy, on the host."""
        return self.host_port + 5

    @property
    def agent_port(self) -> int:
        """The agent's status/control HTTP endpoint on the host (edge peers only)."""
        if self.org.kind is not OrgKind.EDGE:
            raise ConfigError(f"{self.host} is not an edge peer: it has no agent")
        return self.host_port + 3


def _validate(data: Any, *, source: str) -> Topology:
    try:
        return Topology.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"invalid topology in {source}: {problems}") from None


def load_topology(path: Path | None = None) -> Topology:
    """Read and validate a topology file (default: ``network/topology.yaml``)."""
    path = path or DEFAULT_TOPOLOGY
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read topology {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"topology {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"topology {path} must be a mapping, not {type(data).__name__}")
    return _validate(data, source=str(path))
