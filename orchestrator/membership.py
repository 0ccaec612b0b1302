"""Membership of a running network: edge orgs come and go, a compromised edge is revoked, the
Raft orderer set grows and shrinks. Every change is a channel config update signed by the
identities the channel's policies require (see :mod:`orchestrator.configtx_update`).

- ``add_edge``: crypto (``cryptogen extend``), the org added to the Application group (signed by
  a MAJORITY of the application orgs' admins: ``/Channel/Application/Admins``), its peer and
  chaincode server started, the peer joined, the chaincode installed and approved; with the
  ``any`` endorsement (an ``OR`` naming every peer org) a new chaincode definition names the new
  org too, so its peer's endorsements count.
- ``remove_edge``: the same path backwards; its containers and volume are removed.
- ``revoke_edge``: a CRL of the org's User1 and peer certificates, signed with the org's CA key,
  put into the org's MSP (``revocation_list``); the MSP value's ``mod_policy`` is the org's own
  ``Admins``, so the org's admin signs.
- ``add_orderer`` / ``remove_orderer``: one etcdraft consenter per update, and its endpoint in
  another, signed by the orderer org's admin (``/Channel/Orderer/Admins``); a new orderer joins
  with the latest config block and is advertised once it takes part in consensus.

The resolved topology in the state directory follows every change, so ``status`` and ``down``
see the new set of nodes. Nothing here prints; progress goes to a callback.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import datetime as dt
import functools
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from orchestrator import consensus_health, engine, metrics
from orchestrator import network as net
from orchestrator.configtx_update import ChannelConfig, ConfigTx, Signer
from orchestrator.errors import ConfigError, EnvironmentProblem, NetworkError
from orchestrator.fabric_tools import FabricTools, ToolError, retry
from orchestrator.paths import StateDir
from orchestrator.render import render_configtx, render_crypto_config
from orchestrator.topology import DEFAULT_TOPOLOGY, ORDERER_PORT, Node, Org, Topology, load_topology

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

_MSP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,31}")
_EDGE = re.compile(r"edge([1-9][0-9]?)", re.IGNORECASE)
_ORDERER = re.compile(r"orderer([1-9][0-9]?)", re.IGNORECASE)
IMPLICIT_META = 3  # common.Policy_IMPLICIT_META
CRL_FILE = "crl.pem"
_NO_SIGNERS: tuple[Signer, ...] = ()  # nothing was signed: the change was already in the config


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Change:
    """What one membership operation did, and how long each step took."""

    action: str  # "edge add", "edge remove", "edge revoke", "orderer add", "orderer remove"
    target: str  # "Edge5", "orderer4"
    config_block: int  # the block holding the config update
    signers: tuple[str, ...]  # who signed the update, e.g. ("Admin@CloudMSP", "Admin@Edge1MSP")
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)


class _Clock:
    """Seconds spent in each named step (for the report of how long an operation takes)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self.start = time.monotonic()
        self._last = self.start
        self._step: str | None = None
        self.steps: dict[str, float] = {}

    def step(self, name: str, message: str) -> None:
        self._close()
        self._step = name
        self._progress(message)

    def _close(self) -> None:
        now = time.monotonic()
        if self._step is not None:
            self.steps[self._step] = round(self.steps.get(self._step, 0.0) + now - self._last, 3)
        self._last = now

    def done(self) -> float:
        self._close()
        self._step = None
        return round(time.monotonic() - self.start, 3)


# ---- names -------------------------------------------------------------------------------------
def parse_org_name(name: str) -> str:
    """``Edge5``, ``edge5`` or ``Edge5MSP`` → ``Edge5``; anything that is not a valid MSP ID name
    (letters and digits, starting with a letter, at most 32) is a ConfigError."""
    bare = name.strip()
    bare = bare[:-3] if bare.upper().endswith("MSP") and len(bare) > 3 else bare
    if not _MSP_NAME.fullmatch(bare):
        raise ConfigError(
            f"{name!r} is not a valid org name: an MSP ID is letters and digits, starting with a letter "
            "(at most 32), e.g. Edge5"
        )
    return bare


def parse_edge_number(name: str) -> int:
    """The number of edge ``name`` (``Edge5`` → 5)."""
    bare = parse_org_name(name)
    match = _EDGE.fullmatch(bare)
    if not match:
        raise ConfigError(f"{bare!r} is not an edge name: edge orgs are Edge1, Edge2, ... (MSP ID Edge<n>MSP)")
    return int(match.group(1))


def parse_orderer_number(name: str) -> int:
    match = _ORDERER.fullmatch(name.strip().split(".", 1)[0])
    if not match:
        raise ConfigError(f"{name!r} is not an orderer name: orderers are orderer1, orderer2, ...")
    return int(match.group(1))


# ---- topology edits (validated like the file) --------------------------------------------------
def _edited(topology: Topology, edit: Callable[[dict[str, Any]], None]) -> Topology:
    data = topology.model_dump()
    edit(data)
    try:
        return Topology.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"the changed topology is not valid: {problems}") from None


def _bump_sequence(data: dict[str, Any], topology: Topology) -> None:
    """With the ``any`` endorsement the chaincode's policy names every peer org: a changed set of
    orgs needs a new definition (next sequence). ``majority`` follows the channel by itself."""
    if topology.chaincode.endorsement == "any":
        data["chaincode"]["sequence"] += 1


def topology_with_edge(topology: Topology, name: str) -> Topology:
    """``topology`` plus edge ``name``, which must be the next edge; ConfigError otherwise."""
    number = parse_edge_number(name)
    edge = f"Edge{number}"
    if number in topology.edges.removed:
        raise ConfigError(
            f"org {edge} was removed from channel {topology.channel!r}; adding a removed org back is not "
            f"supported: add Edge{topology.edges.count + 1}"
        )
    if any(org.name == edge for org in topology.peer_orgs):
        raise ConfigError(f"org {edge} already exists on channel {topology.channel!r}")
    if number != topology.edges.count + 1:
        raise ConfigError(
            f"edges are numbered in order: the next edge of this network is Edge{topology.edges.count + 1}, not {edge}"
        )

    def edit(data: dict[str, Any]) -> None:
        data["edges"]["count"] = number
        _bump_sequence(data, topology)

    return _edited(topology, edit)


def edge_of(topology: Topology, name: str) -> Org:
    """The edge org ``name`` of ``topology``; ConfigError if it is not there or not an edge."""
    bare = parse_org_name(name)
    if bare.lower() == topology.cloud.name.lower():
        raise ConfigError(f"{topology.cloud.name} is the cloud org, not an edge: only edges can be removed or revoked")
    number = parse_edge_number(bare)
    for org in topology.edge_orgs:
        if org.name == f"Edge{number}":
            return org
    edges = ", ".join(o.name for o in topology.edge_orgs) or "none"
    raise ConfigError(f"org Edge{number} is not on channel {topology.channel!r} (its edges: {edges})")


def topology_without_edge(topology: Topology, name: str) -> Topology:
    org = edge_of(topology, name)
    number = int(org.name.removeprefix("Edge"))

    def edit(data: dict[str, Any]) -> None:
        data["edges"]["removed"] = sorted([*topology.edges.removed, number])
        _bump_sequence(data, topology)

    return _edited(topology, edit)


def _raft_only(topology: Topology, verb: str) -> None:
    if topology.consensus != "etcdraft":
        raise ConfigError(
            f"'orderer {verb}' changes etcdraft consenters; this network runs {topology.consensus} "
            "(its consenter mapping is not supported here)"
        )


def topology_with_orderer(topology: Topology) -> Topology:
    _raft_only(topology, "add")
    return _edited(topology, lambda d: d["orderers"].__setitem__("added", topology.orderers.added + 1))


def orderer_of(topology: Topology, name: str) -> Node:
    number = parse_orderer_number(name)
    for node in topology.orderers_nodes:
        if node.short == f"orderer{number}":
            return node
    known = ", ".join(n.short for n in topology.orderers_nodes)
    raise ConfigError(f"orderer{number} is not an orderer of channel {topology.channel!r} (its orderers: {known})")


def topology_without_orderer(topology: Topology, name: str) -> Topology:
    _raft_only(topology, "remove")
    node = orderer_of(topology, name)
    if len(topology.orderers_nodes) == 1:
        raise ConfigError(
            f"cannot remove {node.short}: it is the last orderer of channel {topology.channel!r} "
            "(add another one first)"
        )
    number = int(node.short.removeprefix("orderer"))
    return _edited(
        topology, lambda d: d["orderers"].__setitem__("removed", sorted([*topology.orderers.removed, number]))
    )


# ---- JSON edits of a decoded channel config (pure) ---------------------------------------------
def _group(config: dict[str, Any], *path: str) -> dict[str, Any]:
    group: dict[str, Any] = config["channel_group"]
    for name in path:
        try:
            group = group["groups"][name]
        except KeyError:
            raise ConfigError(f"the channel config has no group /Channel/{'/'.join(path)}") from None
    return group


def application_orgs(config: dict[str, Any]) -> list[str]:
    """MSP IDs of the channel's application orgs."""
    return sorted(_group(config, "Application").get("groups") or {})


def add_application_org(config: dict[str, Any], msp_id: str, org_group: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with ``org_group`` (``configtxgen -printOrg``) as application org ``msp_id``."""
    if msp_id in application_orgs(config):
        raise ConfigError(f"org {msp_id} is already a member of the channel")
    updated = copy.deepcopy(config)
    _group(updated, "Application").setdefault("groups", {})[msp_id] = copy.deepcopy(org_group)
    return updated


def remove_application_org(config: dict[str, Any], msp_id: str) -> dict[str, Any]:
    if msp_id not in application_orgs(config):
        raise ConfigError(f"org {msp_id} is not a member of the channel")
    updated = copy.deepcopy(config)
    del _group(updated, "Application")["groups"][msp_id]
    return updated


def _msp_config(config: dict[str, Any], msp_id: str) -> dict[str, Any]:
    msp: dict[str, Any] = _group(config, "Application", msp_id)["values"]["MSP"]["value"]["config"]
    return msp


def revocation_list(config: dict[str, Any], msp_id: str) -> list[bytes]:
    """The PEM CRLs in application org ``msp_id``'s MSP definition."""
    return [base64.b64decode(item) for item in _msp_config(config, msp_id).get("revocation_list") or []]


def with_revocation_list(config: dict[str, Any], msp_id: str, crls: Sequence[bytes]) -> dict[str, Any]:
    """A copy of ``config`` whose org ``msp_id`` carries exactly ``crls`` (PEM) as its revocation list."""
    updated = copy.deepcopy(config)
    _msp_config(updated, msp_id)["revocation_list"] = [base64.b64encode(crl).decode() for crl in crls]
    return updated


def consensus_type(config: dict[str, Any]) -> str:
    return str(_group(config, "Orderer")["values"]["ConsensusType"]["value"]["type"])


def _consenters(config: dict[str, Any]) -> list[dict[str, Any]]:
    if consensus_type(config) != "etcdraft":
        raise ConfigError(f"the channel's consensus is {consensus_type(config)}, not etcdraft")
    consenters: list[dict[str, Any]] = _group(config, "Orderer")["values"]["ConsensusType"]["value"]["metadata"][
        "consenters"
    ]
    return consenters


def raft_consenters(config: dict[str, Any]) -> list[str]:
    """``host:port`` of every etcdraft consenter."""
    return [f"{c['host']}:{c['port']}" for c in _consenters(config)]


def orderer_endpoints(config: dict[str, Any], orderer_msp: str) -> list[str]:
    """The orderer org's ``Endpoints``: the orderers peers and gateways use."""
    return list(_endpoints(config, orderer_msp))


def add_raft_consenter(config: dict[str, Any], *, host: str, port: int, tls_cert: bytes) -> dict[str, Any]:
    """A copy with etcdraft consenter ``host:port`` (TLS certificate ``tls_cert``, PEM, both ways)."""
    if f"{host}:{port}" in raft_consenters(config):
        raise ConfigError(f"{host}:{port} is already a consenter")
    updated = copy.deepcopy(config)
    cert = base64.b64encode(tls_cert).decode()
    _consenters(updated).append({"client_tls_cert": cert, "host": host, "port": port, "server_tls_cert": cert})
    return updated


def remove_raft_consenter(config: dict[str, Any], *, host: str, port: int) -> dict[str, Any]:
    address = f"{host}:{port}"
    consenters = raft_consenters(config)
    if address not in consenters:
        raise ConfigError(f"{address} is not a consenter of the channel")
    if len(consenters) == 1:
        raise ConfigError(f"cannot remove {host}: it is the channel's last consenter")
    updated = copy.deepcopy(config)
    remaining = [c for c in _consenters(updated) if f"{c['host']}:{c['port']}" != address]
    _group(updated, "Orderer")["values"]["ConsensusType"]["value"]["metadata"]["consenters"] = remaining
    return updated


def _endpoints(config: dict[str, Any], orderer_msp: str) -> list[str]:
    addresses: list[str] = _group(config, "Orderer", orderer_msp)["values"]["Endpoints"]["value"]["addresses"]
    return addresses


def with_orderer_endpoint(config: dict[str, Any], *, orderer_msp: str, address: str) -> dict[str, Any]:
    """A copy whose orderer org lists ``address`` in ``Endpoints`` (where peers and gateways send)."""
    updated = copy.deepcopy(config)
    if address not in _endpoints(updated, orderer_msp):
        _endpoints(updated, orderer_msp).append(address)
    return updated


def without_orderer_endpoint(config: dict[str, Any], *, orderer_msp: str, address: str) -> dict[str, Any]:
    updated = copy.deepcopy(config)
    addresses = _endpoints(updated, orderer_msp)
    if address in addresses and len(addresses) == 1:
        raise ConfigError(f"cannot remove {address}: it is the last orderer endpoint of {orderer_msp}")
    addresses[:] = [a for a in addresses if a != address]
    return updated


def required_signatures(config: dict[str, Any], *path: str, policy: str = "Admins") -> tuple[int, list[str]]:
    """For the implicit-meta policy ``/Channel/<path>/<policy>``: how many of the sub-groups'
    ``policy`` must be satisfied, and the sub-groups (MSP IDs) that can satisfy it."""
    group = _group(config, *path)
    try:
        spec = group["policies"][policy]["policy"]
    except KeyError:
        raise ConfigError(f"the channel config has no policy /Channel/{'/'.join(path)}/{policy}") from None
    if spec.get("type") != IMPLICIT_META:
        raise ConfigError(f"/Channel/{'/'.join(path)}/{policy} is not an implicit-meta policy")
    rule = spec.get("value", {}).get("rule", "ANY")  # ANY is the enum's zero value, omitted in JSON
    members = sorted(group.get("groups") or {})
    n = len(members)
    needed = {"ANY": 1, "ALL": n, "MAJORITY": n // 2 + 1}[rule]
    return needed, members


def pick_admins(topology: Topology, config: dict[str, Any], *path: str, prefer_not: Iterable[str] = ()) -> list[Signer]:
    """The fewest org admins that satisfy ``/Channel/<path>/Admins``, avoiding ``prefer_not``
    (MSP IDs, e.g. the org being removed) when there are enough others."""
    needed, members = required_signatures(config, *path)
    avoid = set(prefer_not)
    ordered = [m for m in members if m not in avoid] + [m for m in members if m in avoid]
    known = {org.msp_id: org for org in topology.orgs}
    usable = [known[m] for m in ordered if m in known]
    if len(usable) < needed:
        raise ConfigError(
            f"/Channel/{'/'.join(path)}/Admins needs {needed} org admins; this state directory holds "
            f"admins of only {len(usable)} of {', '.join(members)}"
        )
    return [Signer(org) for org in usable[:needed]]


# ---- CRL -------------------------------------------------------------------------------------
def make_crl(
    ca_cert_pem: bytes,
    ca_key_pem: bytes,
    serials: Iterable[int],
    *,
    now: dt.datetime | None = None,
    valid_days: int = 365,
    number: int = 1,
) -> bytes:
    """A PEM CRL issued by the CA (``ca_cert_pem``, key ``ca_key_pem``) revoking ``serials``.

    It carries the CA's subject key identifier as its authority key identifier: that is how
    Fabric's MSP matches a CRL to the CA that issued a certificate before checking the serial."""
    ca = x509.load_pem_x509_certificate(ca_cert_pem)
    key = serialization.load_pem_private_key(ca_key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ConfigError("the CA key is not an EC private key (cryptogen makes ECDSA CAs)")
    when = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    try:
        ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        raise ConfigError(f"CA {ca.subject.rfc4514_string()} has no subject key identifier") from None
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(when - dt.timedelta(minutes=5))
        .next_update(when + dt.timedelta(days=valid_days))
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for serial in sorted(set(serials)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def crl_serials(crl_pem: bytes) -> set[int]:
    return {entry.serial_number for entry in x509.load_pem_x509_crl(crl_pem)}


def _ca_files(state: StateDir, org: Org) -> tuple[Path, Path]:
    """cryptogen's signing CA of ``org``: certificate and private key under ``<org>/ca/``."""
    ca_dir = state.org_dir(org) / "ca"
    return ca_dir / f"ca.{org.domain}-cert.pem", ca_dir / "priv_sk"


def revoked_certificates(state: StateDir, topology: Topology, org: Org) -> dict[str, int]:
    """What ``revoke_edge`` revokes: the org's User1 and peer signing certificates, by serial."""
    peer = topology.peer_of(org)
    files = {
        f"User1@{org.domain}": state.user_msp(org, "User1") / "signcerts" / f"User1@{org.domain}-cert.pem",
        peer.host: state.node_signcert(peer),
    }
    return {who: x509.load_pem_x509_certificate(path.read_bytes()).serial_number for who, path in files.items()}


def revoked_orgs(config: dict[str, Any], state: StateDir, topology: Topology) -> set[str]:
    """MSP IDs of the orgs whose peer certificate a CRL in the channel config revokes: their peers
    cannot endorse (nor, cut off by the orderer, commit), so lifecycle steps and readiness skip them."""
    members = set(application_orgs(config))
    revoked = set()
    for org in topology.peer_orgs:
        crls = revocation_list(config, org.msp_id) if org.msp_id in members else []
        if crls and revoked_certificates(state, topology, org)[topology.peer_of(org).host] in set().union(
            *(crl_serials(c) for c in crls)
        ):
            revoked.add(org.msp_id)
    return revoked


def revoked_locally(state: StateDir, topology: Topology) -> set[str]:
    """MSP IDs of the orgs whose own MSP folder holds a CRL (what ``revoke_edge`` keeps there)
    that revokes their peer certificate: what :func:`revoked_orgs` finds in the channel config,
    read from the state directory alone (no orderer needed)."""
    revoked = set()
    for org in topology.peer_orgs:
        crls = sorted((state.org_msp(org) / "crls").glob("*.pem")) if state.org_msp(org).exists() else []
        serials = set().union(*(crl_serials(path.read_bytes()) for path in crls))
        if serials and revoked_certificates(state, topology, org)[topology.peer_of(org).host] in serials:
            revoked.add(org.msp_id)
    return revoked


# ---- the network side ---------------------------------------------------------------------------
def _respec(spec: net.NetworkSpec, topology: Topology) -> net.NetworkSpec:
    """``spec`` with ``topology``; like ``NetworkSpec.default``, a topology other than the default
    one gets its compose file in the state directory (the committed one is never rewritten)."""
    compose = spec.compose_file
    if compose == net.DEFAULT_COMPOSE and topology != load_topology(DEFAULT_TOPOLOGY):
        compose = spec.state.root / "docker-compose.yaml"
    return dataclasses.replace(spec, topology=topology, compose_file=compose)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@dataclass(frozen=True)
class PlannedUpdate:
    """A config update computed from the live config: not signed, not submitted yet."""

    ctx: ConfigTx
    live: ChannelConfig
    updated: dict[str, Any]
    label: str
    signers: tuple[Signer, ...]  # the fewest identities the policies of the changed elements require
    orderer: Node
    reader: Signer

    def submit(self, signers: Sequence[Signer] | None = None) -> ChannelConfig:
        """Sign with ``signers`` (default: the required ones; the last one submits) and wait for the
        new config block. :class:`UpdateRefused` when the orderer refuses: the config is unchanged."""
        return self.ctx.apply(
            self.live,
            self.updated,
            label=self.label,
            signers=list(signers if signers is not None else self.signers),
            orderer=self.orderer,
            reader=self.reader,
        )


class _Session:
    """Tools and config-update helpers of one network, with the checks every operation starts with."""

    def __init__(self, spec: net.NetworkSpec) -> None:
        self.spec = spec
        t = spec.topology
        if not spec.state.org_msp(t.orderer_org).is_dir():
            raise NetworkError(f"network {spec.project!r} has no state in {spec.state.root}: start it with 'make up'")
        self.tools = FabricTools.locate(spec.fabric_version)
        self.ctx = ConfigTx(self.tools, spec.state, t.channel)
        self.reader = Signer(t.peer_orgs[0])  # the Cloud's admin reads the config

    def orderer(self, *, besides: Node | None = None) -> Node:
        """A healthy orderer (not ``besides``) to fetch from and submit to."""
        t = self.spec.topology
        for node in t.orderers_nodes:
            if node != besides and _healthy(t.ports.bind, node):
                return node
        raise NetworkError(
            f"no orderer of network {self.spec.project!r} answers on its operations port: is it up? ('make up')"
        )

    def fetch(self, orderer: Node, *, patience: float = 15) -> ChannelConfig:
        """The latest config (an orderer electing a leader answers SERVICE_UNAVAILABLE a moment)."""
        deadline = time.monotonic() + patience
        while True:
            try:
                return self.ctx.fetch(orderer=orderer, reader=self.reader)
            except ToolError as exc:
                if time.monotonic() > deadline:
                    channel = self.spec.topology.channel
                    raise NetworkError(f"cannot fetch the config of channel {channel!r}: {exc}") from None
                log.debug("fetch config from %s: %s", orderer.host, exc)
                time.sleep(1)

    def plan(
        self, live: ChannelConfig, updated: dict[str, Any], *, label: str, signers: Sequence[Signer], orderer: Node
    ) -> PlannedUpdate:
        return PlannedUpdate(self.ctx, live, updated, label, tuple(signers), orderer, self.reader)


def channel_config(spec: net.NetworkSpec) -> ChannelConfig:
    """The channel's current config (fetched from a healthy orderer, decoded by configtxlator)."""
    session = _Session(spec)
    return session.fetch(session.orderer())


def _wait(what: str, check: Callable[[], bool], *, timeout: float, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise NetworkError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _check_ports_free(topology: Topology, node: Node, progress: Progress, *, patience: float = 65) -> None:
    """Before starting ``node``: its host ports must be free (unless it already runs).

    Ports in the kernel's ephemeral range (32768-60999 by default) can be the local end of a
    closed client connection for up to 60 s (TIME-WAIT), and Docker cannot publish them then:
    wait that out rather than fail."""
    if _healthy(topology.ports.bind, node):
        return
    ports = [node.host_port, node.operations_port, *([node.admin_port] if node.is_orderer else [])]
    deadline = time.monotonic() + patience
    told = False
    while busy := engine.busy_ports(topology.ports.bind, ports):
        if time.monotonic() > deadline:
            raise EnvironmentProblem(f"host port(s) {', '.join(map(str, busy))} needed by {node.host} are in use")
        if not told:
            progress(f"waiting for host port(s) {', '.join(map(str, busy))} to be free for {node.host}")
            told = True
        time.sleep(1)


def _healthy(bind: str, node: Node) -> bool:
    return metrics.healthz(bind, node.operations_port)[0]


def _peer_height(spec: net.NetworkSpec, peer: Node) -> int:
    samples = metrics.scrape(spec.topology.ports.bind, peer.operations_port)
    height = metrics.value(samples, "ledger_blockchain_height", channel=spec.topology.channel)
    return int(height or 0)


def _start(spec: net.NetworkSpec, node: Node, services: Sequence[str], timeout: float) -> None:
    """``compose up`` only ``services`` (the running ones are left alone), then wait for ``node``."""
    spec.compose().up(services)
    _wait(f"{node.host} /healthz", functools.partial(_healthy, spec.topology.ports.bind, node), timeout=timeout)


def _services(spec: net.NetworkSpec) -> set[str]:
    """The services of ``spec``'s compose file (rendered, not read: pure)."""
    return set(yaml.safe_load(spec.render_compose())["services"])


def _remove_containers(spec: net.NetworkSpec, services: Iterable[str]) -> None:
    """Remove the containers of ``services`` and their volumes (the new compose file no longer has them)."""
    client = engine.connect()
    project = f"com.docker.compose.project={spec.project}"
    for service in services:
        for container in client.containers.list(
            all=True, filters={"label": [project, f"com.docker.compose.service={service}"]}
        ):
            container.remove(force=True, v=True)
        for volume in client.volumes.list(filters={"label": [project, f"com.docker.compose.volume={service}"]}):
            volume.remove(force=True)


def _extend_crypto(session: _Session, topology: Topology) -> None:
    """Crypto material for the nodes of ``topology`` that have none; configtx.yaml re-rendered
    (``configtxgen -printOrg`` reads the new org from it)."""
    state = session.spec.state
    _write(state.crypto_config, render_crypto_config(topology))
    session.ctx.cryptogen_extend()
    _write(state.configtx, render_configtx(topology, fabric_version=session.spec.fabric_version, state=state))


# ---- edges --------------------------------------------------------------------------------------
def _plan_add_edge(session: _Session, live: ChannelConfig, org: Org, orderer: Node) -> PlannedUpdate:
    t = session.spec.topology
    updated = add_application_org(live.config, org.msp_id, session.ctx.print_org(org.msp_id))
    signers = pick_admins(t, live.config, "Application")  # /Channel/Application/Admins: MAJORITY
    return session.plan(live, updated, label=f"add-{org.name}", signers=signers, orderer=orderer)


def plan_add_edge(spec: net.NetworkSpec, name: str) -> PlannedUpdate:
    """The config update that adds edge ``name`` (crypto made, nothing signed or submitted)."""
    new_t = topology_with_edge(spec.topology, name)
    org = new_t.peer_orgs[-1]
    session = _Session(spec)
    orderer = session.orderer()
    live = session.fetch(orderer)
    if org.msp_id in application_orgs(live.config):
        raise ConfigError(f"org {org.msp_id} is already in the config of channel {spec.topology.channel!r}")
    _extend_crypto(session, new_t)
    return _plan_add_edge(session, live, org, orderer)


def add_edge(spec: net.NetworkSpec, name: str, *, progress: Progress = _quiet, timeout: float = 180) -> Change:
    """Add edge org ``name`` (the next ``Edge<n>``) to the running network of ``spec``: config
    update, peer and chaincode server started, channel joined, chaincode approved."""
    new_t = topology_with_edge(spec.topology, name)  # bad names fail before anything runs
    t, state = spec.topology, spec.state
    org = new_t.peer_orgs[-1]
    peer = new_t.peer_of(org)
    clock = _Clock(progress)
    session = _Session(spec)
    orderer = session.orderer()
    live = session.fetch(orderer)
    _check_ports_free(new_t, peer, progress)

    clock.step("crypto", f"creating crypto material for {org.name} (cryptogen extend)")
    _extend_crypto(session, new_t)
    committed, signers = live, _NO_SIGNERS
    if org.msp_id in application_orgs(live.config):  # an interrupted add got this far
        progress(f"{org.msp_id} is already in the channel config: continuing")
    else:
        clock.step("config update", f"adding {org.msp_id} to channel {t.channel!r} (config update)")
        planned = _plan_add_edge(session, live, org, orderer)
        progress(f"signed by {', '.join(map(str, planned.signers))} (MAJORITY of the application org admins)")
        committed, signers = planned.submit(), planned.signers
    new_spec = _respec(spec, new_t)
    net.render(new_spec)  # the topology, compose file, ... of the network as it now is

    clock.step("start", f"starting {peer.host} and {peer.chaincode_host}")
    link_proxy = [peer.proxy_host] if new_spec.topology.links.proxied else []  # emulated links (issue 11)
    _start(new_spec, peer, [*link_proxy, peer.host, peer.chaincode_host], timeout)
    clock.step("join", f"joining {peer.host} to channel {t.channel!r}")
    _join_peer(new_spec, session.tools, peer, timeout=timeout)
    target = max(_peer_height(spec, p) for p in t.peer_nodes)
    _wait(f"{peer.host} to reach block {target}", lambda: _peer_height(new_spec, peer) >= target, timeout=timeout)

    clock.step("chaincode", f"chaincode {new_t.chaincode.name} for {org.name}")
    revoked = revoked_orgs(committed.config, state, new_t)
    usable = [p for p in new_t.peer_nodes if p.org.msp_id not in revoked]
    _chaincode_for(new_spec, session.tools, peer, usable, progress)
    clock.step("ready", "waiting for the chaincode to answer on every peer")
    net.wait_chaincode_ready(new_spec, timeout=timeout, orgs=[p.org for p in usable])
    return Change("edge add", org.name, committed.block_number, _names(signers), clock.done(), clock.steps)


def _names(signers: Iterable[Signer]) -> tuple[str, ...]:
    return tuple(str(s) for s in signers)


def _join_peer(spec: net.NetworkSpec, tools: FabricTools, peer: Node, *, timeout: float) -> None:
    """Join with the genesis block; retried while the new peer does not answer yet or the orderer does
    not yet let the new org read."""
    channel = spec.topology.channel
    block = str(spec.state.channel_block(channel))
    deadline = time.monotonic() + timeout
    while True:
        try:  # the peer just started: its first `channel list` may meet a listener not ready for TLS
            if channel in tools.peer_channels(spec.state, peer):
                return
            tools.peer(spec.state, peer, ["channel", "join", "-b", block])
        except ToolError as exc:
            if time.monotonic() > deadline:
                raise
            log.debug("join %s: %s", peer.host, exc)
            time.sleep(1)


def _chaincode_for(
    spec: net.NetworkSpec, tools: FabricTools, peer: Node, usable: Sequence[Node], progress: Progress
) -> None:
    """Install on the new peer. ``any`` endorsement: the ``usable`` (not revoked) orgs approve and
    commit the next sequence, whose OR names the new org; ``majority``: the new org approves the
    committed definition (the channel's MAJORITY Endorsement policy counts it by itself)."""
    t, state = spec.topology, spec.state
    if t.chaincode.endorsement == "any":
        net.deploy_chaincode(spec, tools, progress, peers=usable)
        return
    if spec.package_id not in tools.installed_packages(state, peer):
        tools.peer(state, peer, ["lifecycle", "chaincode", "install", str(state.chaincode_package(t.chaincode.label))])
    definition = net._definition(spec)
    if not tools.approvals(state, peer, channel=t.channel, definition=definition).get(peer.org.msp_id):
        progress(f"approving the committed definition of {t.chaincode.name} for {peer.org.msp_id}")
        tools.peer(
            state,
            peer,
            [
                "lifecycle",
                "chaincode",
                "approveformyorg",
                "-C",
                t.channel,
                *definition,
                "--package-id",
                spec.package_id,
                *tools.orderer_flags(state, t.orderers_nodes[0]),
            ],
        )


def plan_remove_edge(spec: net.NetworkSpec, name: str) -> PlannedUpdate:
    """The config update that removes edge ``name`` from the channel."""
    org = edge_of(spec.topology, name)
    topology_without_edge(spec.topology, name)
    session = _Session(spec)
    orderer = session.orderer()
    live = session.fetch(orderer)
    return _plan_remove_edge(session, live, org, orderer)


def _plan_remove_edge(session: _Session, live: ChannelConfig, org: Org, orderer: Node) -> PlannedUpdate:
    updated = remove_application_org(live.config, org.msp_id)
    signers = pick_admins(session.spec.topology, live.config, "Application", prefer_not=[org.msp_id])
    return session.plan(live, updated, label=f"remove-{org.name}", signers=signers, orderer=orderer)


def remove_edge(spec: net.NetworkSpec, name: str, *, progress: Progress = _quiet, timeout: float = 180) -> Change:
    """Remove edge org ``name`` from the channel, then its peer, chaincode server and volume."""
    new_t = topology_without_edge(spec.topology, name)
    t = spec.topology
    org = edge_of(t, name)
    clock = _Clock(progress)
    session = _Session(spec)
    orderer = session.orderer()
    live = session.fetch(orderer)
    committed, signers = live, _NO_SIGNERS
    if org.msp_id not in application_orgs(live.config):
        progress(f"{org.msp_id} is no longer in the channel config: continuing")
    else:
        clock.step("config update", f"removing {org.msp_id} from channel {t.channel!r} (config update)")
        planned = _plan_remove_edge(session, live, org, orderer)
        progress(f"signed by {', '.join(map(str, planned.signers))} (MAJORITY of the application org admins)")
        committed, signers = planned.submit(), planned.signers
    new_spec = _respec(spec, new_t)
    net.render(new_spec)
    if new_t.chaincode.sequence != t.chaincode.sequence:
        clock.step("chaincode", f"new definition of {t.chaincode.name} without {org.name}")
        revoked = revoked_orgs(committed.config, spec.state, new_t)
        usable = [p for p in new_t.peer_nodes if p.org.msp_id not in revoked]
        net.deploy_chaincode(new_spec, session.tools, progress, peers=usable)
    gone = sorted(_services(spec) - _services(new_spec))  # its peer, chaincode server (and agent)
    clock.step("stop", f"removing {', '.join(gone)} (containers and volumes)")
    _remove_containers(spec, gone)
    return Change("edge remove", org.name, committed.block_number, _names(signers), clock.done(), clock.steps)


def plan_revoke_edge(spec: net.NetworkSpec, name: str, *, progress: Progress = _quiet) -> PlannedUpdate:
    """The config update that puts a CRL of edge ``name``'s User1 and peer certificates into its
    MSP (the CRL is issued here, with the org's CA key; ``revoke_edge`` keeps it in ``<org>/msp/crls/``
    once the update is in)."""
    t, state = spec.topology, spec.state
    org = edge_of(t, name)
    session = _Session(spec)
    orderer = session.orderer()
    live = session.fetch(orderer)
    if org.msp_id not in application_orgs(live.config):
        raise ConfigError(f"org {org.msp_id} is not a member of channel {t.channel!r}")
    revoke = revoked_certificates(state, t, org)
    existing = revocation_list(live.config, org.msp_id)
    already: set[int] = set().union(*(crl_serials(c) for c in existing))
    if set(revoke.values()) <= already:
        raise ConfigError(f"the certificates of {org.name} ({', '.join(revoke)}) are already revoked")
    progress(f"issuing a CRL for {', '.join(revoke)} with the {org.name} CA")
    ca_cert, ca_key = _ca_files(state, org)
    crl = make_crl(ca_cert.read_bytes(), ca_key.read_bytes(), already | set(revoke.values()), number=len(existing) + 1)
    updated = with_revocation_list(live.config, org.msp_id, [crl])
    # The MSP value's mod_policy is the org's own Admins (OR of its admins): its admin signs.
    return session.plan(live, updated, label=f"revoke-{org.name}", signers=[Signer(org)], orderer=orderer)


def revoke_edge(spec: net.NetworkSpec, name: str, *, progress: Progress = _quiet) -> Change:
    """Revoke edge ``name``'s User1 and peer certificates: a CRL in its MSP definition."""
    org = edge_of(spec.topology, name)  # bad names fail before anything runs
    clock = _Clock(progress)
    clock.step("crl", f"revoking the User1 and peer certificates of {org.name}")
    planned = plan_revoke_edge(spec, name, progress=progress)
    clock.step("config update", f"putting the CRL into {org.msp_id} on channel {spec.topology.channel!r}")
    committed = planned.submit()
    crls_dir = spec.state.org_msp(org) / "crls"  # configtxgen -printOrg reads it: later renders keep the CRL
    crls_dir.mkdir(parents=True, exist_ok=True)
    (crls_dir / CRL_FILE).write_bytes(b"".join(revocation_list(committed.config, org.msp_id)))
    signers = _names(planned.signers)
    return Change("edge revoke", org.name, committed.block_number, signers, clock.done(), clock.steps)


# ---- orderers -----------------------------------------------------------------------------------
# Following Fabric's "add or remove orderers" procedure, the consenter set and the orderer org's
# Endpoints change in separate updates: a new orderer is advertised to peers and gateways only
# once it takes part in consensus, and a leaving one stops being advertised before it leaves.
def _plan_orderer_update(
    session: _Session, live: ChannelConfig, updated: dict[str, Any], label: str, orderer: Node
) -> PlannedUpdate:
    signers = pick_admins(session.spec.topology, live.config, "Orderer")  # /Channel/Orderer/Admins: MAJORITY
    return session.plan(live, updated, label=label, signers=signers, orderer=orderer)


def _plan_add_consenter(session: _Session, live: ChannelConfig, node: Node, orderer: Node) -> PlannedUpdate:
    tls_cert = (session.spec.state.node_tls(node) / "server.crt").read_bytes()
    updated = add_raft_consenter(live.config, host=node.host, port=ORDERER_PORT, tls_cert=tls_cert)
    return _plan_orderer_update(session, live, updated, f"add-{node.short}", orderer)


def plan_add_orderer(spec: net.NetworkSpec) -> PlannedUpdate:
    """The config update that adds the next orderer as a Raft consenter (crypto made)."""
    new_t = topology_with_orderer(spec.topology)
    node = new_t.orderers_nodes[-1]
    session = _Session(spec)
    orderer = session.orderer()
    live = session.fetch(orderer)
    _extend_crypto(session, new_t)
    return _plan_add_consenter(session, live, node, orderer)


def add_orderer(spec: net.NetworkSpec, *, progress: Progress = _quiet, timeout: float = 180) -> Change:
    """Add the next Raft orderer: consenter (config update), start it, join it with the latest
    config block, wait until it takes part, then advertise it in the orderer org's Endpoints."""
    new_t = topology_with_orderer(spec.topology)
    t, state = spec.topology, spec.state
    org = t.orderer_org.msp_id
    node = new_t.orderers_nodes[-1]
    address = f"{node.host}:{ORDERER_PORT}"
    clock = _Clock(progress)
    session = _Session(spec)
    orderer = session.orderer()
    live = session.fetch(orderer)
    _check_ports_free(new_t, node, progress)
    already = address in raft_consenters(live.config)
    if not already:  # refused here, nothing is written
        clock.step("healthy", "waiting for every consenter to be active and caught up")
        consensus_health.wait_healthy(t, before=f"add consenter {address}", timeout=timeout, progress=progress)
        live = session.fetch(orderer)

    clock.step("crypto", f"creating crypto material for {node.host} (cryptogen extend)")
    _extend_crypto(session, new_t)
    committed, signers = live, _NO_SIGNERS
    if already:
        progress(f"{node.host} is already a consenter: continuing")
    else:
        clock.step("config update", f"adding consenter {address} to channel {t.channel!r} (config update)")
        planned = _plan_add_consenter(session, live, node, orderer)
        progress(f"signed by {', '.join(map(str, planned.signers))} (MAJORITY of the orderer org admins)")
        committed, signers = planned.submit(), planned.signers
    new_spec = _respec(spec, new_t)
    net.render(new_spec)

    clock.step("start", f"starting {node.host}")
    _start(new_spec, node, [node.host], timeout)
    clock.step("join", f"joining {node.host} with config block {committed.block_number} (osnadmin)")
    block = committed.block_file

    def join() -> None:
        if t.channel not in session.tools.orderer_channels(state, node):
            session.tools.orderer_join(state, node, t.channel, block=block)

    retry(f"osnadmin join {node.host}", join)

    def active() -> bool:
        try:
            info = session.tools.orderer_channel(state, node, t.channel)
        except ToolError as exc:
            log.debug("osnadmin %s: %s", node.host, exc)
            return False
        return info.get("status") == "active" and info.get("consensusRelation") == "consenter"

    clock.step("catch up", f"waiting for {node.host} to catch up and take part in consensus")
    _wait(f"{node.host} to become an active consenter", active, timeout=timeout)
    # the leader sees it active (and every consenter knows): the next change will not wait on it
    consensus_health.wait_healthy(new_t, before=f"advertise {address}", timeout=timeout, progress=progress)
    if address not in orderer_endpoints(committed.config, org):
        clock.step("endpoint", f"advertising {address} in {org}'s endpoints (config update)")
        updated = with_orderer_endpoint(committed.config, orderer_msp=org, address=address)
        planned = _plan_orderer_update(session, committed, updated, f"endpoint-{node.short}", orderer)
        committed, signers = planned.submit(), planned.signers
    return Change("orderer add", node.short, committed.block_number, _names(signers), clock.done(), clock.steps)


def plan_remove_orderer(spec: net.NetworkSpec, name: str) -> PlannedUpdate:
    """The config update that removes consenter ``name`` (its endpoint left as it is)."""
    topology_without_orderer(spec.topology, name)
    node = orderer_of(spec.topology, name)
    session = _Session(spec)
    orderer = session.orderer(besides=node)
    live = session.fetch(orderer)
    updated = remove_raft_consenter(live.config, host=node.host, port=ORDERER_PORT)
    return _plan_orderer_update(session, live, updated, f"remove-{node.short}", orderer)


def remove_orderer(spec: net.NetworkSpec, name: str, *, progress: Progress = _quiet, timeout: float = 180) -> Change:
    """Remove Raft orderer ``name``: no longer advertised (config update), then no longer a
    consenter (config update), then its container.

    Raft drops a transaction that reaches a leader while it hands leadership over (removing the
    leader does that): Broadcast said SUCCESS but it never commits. Clients must resubmit what
    does not commit in time, as with any leader change."""
    new_t = topology_without_orderer(spec.topology, name)
    t = spec.topology
    org = t.orderer_org.msp_id
    node = orderer_of(t, name)
    address = f"{node.host}:{ORDERER_PORT}"
    clock = _Clock(progress)
    session = _Session(spec)
    orderer = session.orderer(besides=node)
    committed, signers = session.fetch(orderer), _NO_SIGNERS
    if address in raft_consenters(committed.config):  # refused here, nothing is changed
        clock.step("healthy", "waiting for the other consenters to be active and caught up")
        consensus_health.wait_healthy(
            t, before=f"remove consenter {address}", leaving=node.short, timeout=timeout, progress=progress
        )
        committed = session.fetch(orderer)
    if address in orderer_endpoints(committed.config, org):
        clock.step("endpoint", f"no longer advertising {address} in {org}'s endpoints (config update)")
        updated = without_orderer_endpoint(committed.config, orderer_msp=org, address=address)
        planned = _plan_orderer_update(session, committed, updated, f"endpoint-{node.short}", orderer)
        progress(f"signed by {', '.join(map(str, planned.signers))} (MAJORITY of the orderer org admins)")
        committed, signers = planned.submit(), planned.signers
    if address not in raft_consenters(committed.config):
        progress(f"{node.host} is no longer a consenter: continuing")
    else:
        clock.step("config update", f"removing consenter {address} from channel {t.channel!r} (config update)")
        updated = remove_raft_consenter(committed.config, host=node.host, port=ORDERER_PORT)
        planned = _plan_orderer_update(session, committed, updated, f"remove-{node.short}", orderer)
        committed, signers = planned.submit(), planned.signers
    new_spec = _respec(spec, new_t)
    net.render(new_spec)
    clock.step("leader", "waiting for one consensus leader among the remaining orderers")
    _wait("one consensus leader", lambda: len(net.raft_leaders(new_spec)) == 1, timeout=timeout)
    clock.step("stop", f"removing {node.host} (container and volume)")
    _remove_containers(spec, sorted(_services(spec) - _services(new_spec)))
    return Change("orderer remove", node.short, committed.block_number, _names(signers), clock.done(), clock.steps)
