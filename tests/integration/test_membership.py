"""Membership on a live network of its own: add an edge org, refuse under-signed updates, revoke
an edge, remove an org, grow and shrink the Raft orderer set under load.

The tests run in order on one module-scoped network (Cloud + Edge1..Edge2, 3 Raft orderers);
each reloads the topology the previous one persisted in the state directory. Where Fabric
refuses someone, the assertion names the level (TLS, MSP or policy) and the component."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from orchestrator import audit, consensus_health, engine, membership, membership_cli
from orchestrator.configtx_update import ChannelConfig, Signer, UpdateRefused
from orchestrator.errors import ConfigError, LedgerError, NetworkError
from orchestrator.fabric_tools import FabricTools, ToolError
from orchestrator.gateway import CommitError, EndorseError, EvaluateError, Gateway, Identity, SubmitError, SubmitResult
from orchestrator.gateway.client import CommitStatus, Timeouts, Transaction
from orchestrator.gateway.errors import CommitStatusError
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec, raft_leaders, status, up
from orchestrator.topology import OrgKind, load_topology

from . import waits
from .conftest import free_port_base, isolated_network

pytestmark = pytest.mark.integration
TIMINGS: dict[str, membership.Change] = {}


@pytest.fixture(scope="module")
def mem_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkSpec]:
    topology = load_topology().with_overrides(edges=2, port_base=free_port_base(start=29000))
    try:
        with isolated_network(tmp_path_factory, "mem", topology) as spec:
            yield spec
    finally:
        for change in TIMINGS.values():
            print(f"\n{change.action} {change.target}: {change.seconds:.1f} s {change.steps}")


def _current(spec: NetworkSpec) -> NetworkSpec:
    """The network as the state directory now describes it (what `mecfab` would reload)."""
    return NetworkSpec.isolated(spec.state.root, project=spec.project, topology=load_topology(spec.state.topology))


def _config(spec: NetworkSpec) -> ChannelConfig:
    return membership.channel_config(spec)


def _request(
    ledger: Ledger, *, synced: NetworkSpec | None = None, skip: frozenset[str] = frozenset(), deadline_s: int = 600
) -> str:
    """A task request with its payload; with ``synced``, returns once every peer (but those of the
    orgs in ``skip``) committed it."""
    task_id = f"mem-{uuid.uuid4().hex[:8]}"
    payload = task_id.encode()
    result = ledger.request_task(
        task_id,
        cpu_cycles=1_000_000_000,
        input_bytes=len(payload),
        deadline_unix=int(time.time()) + deadline_s,
        max_price=50,
        payload_hash=hashlib.sha256(payload).hexdigest(),
        payload=payload,  # transient data: its own peer must endorse (and count for the policy)
    )
    if synced is not None:
        waits.synced(synced, result, skip=skip)
    return task_id


def _revoked(spec: NetworkSpec) -> frozenset[str]:
    """The orgs revoked with ``revoke_edge``: the orderer no longer serves their peers, which may
    never see another block (skip them when waiting for every peer)."""
    revoked = membership.revoked_locally(spec.state, spec.topology)
    return frozenset(o.name for o in spec.topology.peer_orgs if o.msp_id in revoked)


def _register(ledger: Ledger) -> SubmitResult:
    return ledger.register_edge(cpu_cycles_per_sec=3_000_000_000, memory_mb=4096, price_per_gigacycle=5)


def _gateway(spec: NetworkSpec, identity: Identity, via: str, *, timeouts: Timeouts | None = None) -> Gateway:
    """A gateway connection for ``identity`` through org ``via``'s peer."""
    org = spec.topology.org(via)
    peer = spec.topology.peer_of(org)
    return Gateway(
        endpoint=f"{spec.topology.ports.bind}:{peer.host_port}",
        tls_root_cert=spec.state.org_tls_ca(org).read_bytes(),
        identity=identity,
        server_name_override=peer.host,
        timeouts=timeouts,
    )


def _user(spec: NetworkSpec, org_name: str) -> Identity:
    org = spec.topology.org(org_name)
    return Identity.from_msp_dir(org.msp_id, spec.state.user_msp(org, "User1"))


def test_bad_input_is_one_config_error_and_changes_nothing(mem_network: NetworkSpec) -> None:
    spec = _current(mem_network)
    before = _config(spec)
    cases = [
        (lambda: membership.add_edge(spec, "Edge2"), "already exists"),
        (lambda: membership.remove_edge(spec, "Edge9"), "is not on channel"),
        (lambda: membership.add_edge(spec, "Edge 3!"), "not a valid org name"),
        (lambda: membership.revoke_edge(spec, "Cloud"), "not an edge"),
        (lambda: membership.remove_orderer(spec, "orderer7"), "is not an orderer"),
    ]
    # a view of this network with one orderer left: removing it must fail before anything runs
    one = membership.topology_without_orderer(
        membership.topology_without_orderer(spec.topology, "orderer2"), "orderer3"
    )
    cases.append(
        (lambda: membership.remove_orderer(dataclasses.replace(spec, topology=one), "orderer1"), "last orderer")
    )
    for call, message in cases:
        with pytest.raises(ConfigError, match=message) as info:
            call()
        assert "\n" not in str(info.value)
    after = _config(spec)
    assert (after.block_number, after.fingerprint) == (before.block_number, before.fingerprint)


def test_under_signed_config_update_is_refused(mem_network: NetworkSpec) -> None:
    spec = _current(mem_network)
    t = spec.topology
    planned = membership.plan_add_edge(spec, "Edge3")
    cloud, edge1, edge2 = (t.org(n) for n in ("Cloud", "Edge1", "Edge2"))
    # /Channel/Application/Admins is MAJORITY Admins: 2 of the 3 application orgs' admins.
    assert [s.msp_id for s in planned.signers] == ["CloudMSP", "Edge1MSP"]
    attempts = {
        "one admin": ([Signer(edge1)], "1 sub-policies were satisfied, but this policy requires 2"),
        "two non-admins": (
            [Signer(cloud, "User1"), Signer(edge2, "User1")],
            "0 sub-policies were satisfied, but this policy requires 2",
        ),
        "an admin and a client": (
            [Signer(cloud, "User1"), Signer(edge2)],
            "1 sub-policies were satisfied, but this policy requires 2",
        ),
    }
    for who, (signers, reason) in attempts.items():
        # Level: policy. The orderer checks the update's signatures against the mod_policy of
        # /Channel/Application (its Admins policy) and refuses with BAD_REQUEST.
        with pytest.raises(UpdateRefused, match=reason) as info:
            planned.submit(signers)
        assert "/Channel/Application not satisfied" in str(info.value), who
    # Revoking Edge2 changes Edge2MSP's MSP value, whose mod_policy is Edge2MSP's own Admins:
    # other orgs' admins, however many, cannot do it. Level: policy (at the orderer).
    revoke = membership.plan_revoke_edge(spec, "Edge2")
    assert [str(s) for s in revoke.signers] == ["Admin@Edge2MSP"]
    with pytest.raises(UpdateRefused, match="/Channel/Application/Edge2MSP/MSP not satisfied"):
        revoke.submit([Signer(cloud), Signer(edge1)])
    # The consenter set belongs to the orderer org: /Channel/Orderer/Admins (MAJORITY of OrdererMSP).
    consenter = membership.plan_add_orderer(spec)
    assert [str(s) for s in consenter.signers] == ["Admin@OrdererMSP"]
    # (ConsensusType and the org's Endpoints change: the orderer names whichever it checks first)
    with pytest.raises(UpdateRefused, match=r"policy for \[Value\]\s+/Channel/Orderer/\S+ not satisfied"):
        consenter.submit([Signer(cloud), Signer(edge1), Signer(edge2)])
    after = _config(spec)
    assert (after.block_number, after.fingerprint) == (planned.live.block_number, planned.live.fingerprint)
    assert "Edge3MSP" not in membership.application_orgs(after.config)
    assert not (spec.state.org_msp(edge2) / "crls").exists()


def test_added_edge_registers_and_requests_a_task(mem_network: NetworkSpec) -> None:
    spec = _current(mem_network)
    change = membership.add_edge(spec, "Edge3")
    TIMINGS["add edge"] = change
    assert change.signers == ("Admin@CloudMSP", "Admin@Edge1MSP")
    spec = _current(mem_network)
    assert [o.name for o in spec.topology.peer_orgs] == ["Cloud", "Edge1", "Edge2", "Edge3"]
    assert "Edge3MSP" in membership.application_orgs(_config(spec).config)
    nodes = {n.host: n for n in status(spec).nodes}
    assert nodes["peer0.edge3.mec"].container == "running" and nodes["peer0.edge3.mec"].healthy
    with Ledger.connect(spec, "Edge3") as edge3:
        _register(edge3)
        task_id = _request(edge3)  # endorsed by Edge3's own peer only: the new definition counts it
        assert edge3.read_task(task_id)["requester"] == "Edge3MSP"
        assert edge3.read_payload(task_id) == task_id.encode()
    # ... and executes one: Edge1 asks, the Cloud shortlists Edge3, Edge3 offers, gets the award
    # (escrow; SBE = Edge1 AND Edge3 peers), reads the private payload, delivers, is paid.
    with (
        Ledger.connect(spec, "Edge1") as edge1,
        Ledger.connect(spec, "Edge3") as edge3,
        Ledger.connect(spec, "Cloud") as cloud,
    ):
        _register(edge1)
        task_id = _request(edge1, synced=spec)
        waits.synced(spec, cloud.shortlist(task_id, ["Edge3MSP"]))
        waits.synced(spec, edge3.offer(task_id, willing=True, price=40, estimated_seconds=5))
        waits.synced(spec, edge1.award(task_id, "Edge3MSP", 40, payload=task_id.encode()))
        assert edge3.read_payload(task_id) == task_id.encode()
        waits.synced(spec, edge3.submit_result(task_id, b"result of " + task_id.encode()))
        waits.synced(spec, edge1.settle(task_id))
        assert cloud.read_task(task_id)["status"] == "SETTLED"
        assert cloud.balance("Edge3MSP")["balance"] == 1_000_000 + 40
        assert cloud.audit_credits()["balanced"] is True


def _intruder(tmp: Path) -> tuple[Identity, Path, Path]:
    """An identity from a CA no org of the channel knows, claiming to be Edge2MSP's client;
    and a TLS client certificate/key from that CA."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca.intruder.example")])
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "client"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "User1@edge2.mec"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = tmp / "intruder.crt", tmp / "intruder.key"
    cert_file.write_bytes(pem)
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Identity(msp_id="Edge2MSP", cert=pem, private_key=key), cert_file, key_file


def _award_to_edge1(spec: NetworkSpec, *, deadline_s: int) -> str:
    """Edge2 asks for a task due in ``deadline_s`` and awards it to Edge1 (escrow held; the task key
    needs Edge2 AND (Edge1 OR the Cloud))."""
    with (
        Ledger.connect(spec, "Edge1") as edge1,
        Ledger.connect(spec, "Edge2") as edge2,
        Ledger.connect(spec, "Cloud") as cloud,
    ):
        waits.synced(spec, _register(edge1))
        waits.synced(spec, _register(edge2))
        task_id = _request(edge2, synced=spec, deadline_s=deadline_s)
        waits.synced(spec, cloud.shortlist(task_id, ["Edge1MSP"]))
        waits.synced(spec, edge1.offer(task_id, willing=True, price=30, estimated_seconds=5))
        waits.synced(spec, edge2.award(task_id, "Edge1MSP", 30, payload=task_id.encode()))
        task = cloud.read_task(task_id)
        assert (task["status"], task["executor"], task["escrow"]) == ("AWARDED", "Edge1MSP", 30)
    return task_id


def _expire_and_reassign(spec: NetworkSpec, task_id: str) -> None:
    """The task awarded to the now revoked Edge1: once past its deadline, Edge2 (the requester) and
    the Cloud expire it without Edge1, the escrow returns, Edge3 executes it instead and is paid;
    credits stay conserved throughout."""
    revoked = _revoked(spec)
    with (
        Ledger.connect(spec, "Edge2") as edge2,
        Ledger.connect(spec, "Edge3") as edge3,
        Ledger.connect(spec, "Cloud") as cloud,
    ):
        before = {e["mspId"]: e for e in cloud.list_edges()}
        task = cloud.read_task(task_id)
        assert (task["status"], task["executor"]) == ("AWARDED", "Edge1MSP")  # stranded: Edge1 cannot deliver
        waits.wait_past_deadline(task["deadline"])
        started = time.monotonic()
        # The usual endorsement, requester + executor, cannot work: Edge1's peer is revoked (refused
        # at the gateway, or its endorsement fails the policy at validation).
        with pytest.raises(LedgerError) as stuck:
            edge2.expire(task_id)
        print(f"\nexpire with the revoked executor's peer: {type(stuck.value).__name__}: {str(stuck.value)[:160]}")
        if isinstance(stuck.value, CommitError):  # in a block, invalid: the Cloud's peer validates it too
            waits.wait_for_block(spec, stuck.value.block_number, skip=revoked)
        assert cloud.read_task(task_id)["status"] == "AWARDED"
        # Requester + Cloud: the task key's policy OR(AND(Edge2, Edge1), AND(Edge2, Cloud)).
        waits.synced(spec, edge2.expire(task_id, without_executor=True), skip=revoked)
        expired_s = time.monotonic() - started
        task = cloud.read_task(task_id)
        assert (task["status"], task["escrow"]) == ("EXPIRED", 0)
        after = {e["mspId"]: e for e in cloud.list_edges()}
        assert after["Edge2MSP"]["balance"] == before["Edge2MSP"]["balance"] + 30  # the escrow is back
        assert after["Edge1MSP"]["balance"] == before["Edge1MSP"]["balance"]
        assert after["Edge1MSP"]["reputation"] == before["Edge1MSP"]["reputation"] - 25
        assert after["Edge1MSP"]["expiredTasks"] == before["Edge1MSP"]["expiredTasks"] + 1
        # Reassigned: a new round without Edge1, Edge3 executes, Edge2 settles.
        waits.synced(spec, edge2.reassign(task_id, deadline_unix=int(time.time()) + 600), skip=revoked)
        waits.synced(spec, cloud.shortlist(task_id, ["Edge3MSP"]), skip=revoked)
        waits.synced(spec, edge3.offer(task_id, willing=True, price=35, estimated_seconds=5), skip=revoked)
        waits.synced(spec, edge2.award(task_id, "Edge3MSP", 35, payload=task_id.encode()), skip=revoked)
        assert edge3.read_payload(task_id) == task_id.encode()
        waits.synced(spec, edge3.submit_result(task_id, b"result of " + task_id.encode()), skip=revoked)
        waits.synced(spec, edge2.settle(task_id), skip=revoked)
        task = cloud.read_task(task_id)
        assert (task["status"], task["executor"], task["round"]) == ("SETTLED", "Edge3MSP", 2)
        statuses = [h["value"]["status"] for h in cloud.task_history(task_id) if h.get("value")]
        first, second = statuses[:4], statuses[4:]
        assert first == ["REQUESTED", "SHORTLISTED", "AWARDED", "EXPIRED"]
        assert second == ["REQUESTED", "SHORTLISTED", "AWARDED", "COMPLETED", "SETTLED"]
        assert not audit.check_history(task_id, statuses)
        final = {e["mspId"]: e for e in cloud.list_edges()}
        assert final["Edge2MSP"]["balance"] == before["Edge2MSP"]["balance"] + 30 - 35
        assert final["Edge3MSP"]["balance"] == before["Edge3MSP"]["balance"] + 35
        assert final["Edge1MSP"]["balance"] == before["Edge1MSP"]["balance"]
        # conserved: AuditCredits, and balances + escrow == grants from ListEdges and every task
        tasks = [t for status in audit.TRANSITIONS for t in cloud.tasks_by_status(status)]
        assert not audit.check_credits(cloud.audit_credits(), list(final.values()), tasks)
        assert sum(e["grant"] for e in final.values()) == sum(e["grant"] for e in before.values())
    print(f"\nrevoked executor's task: expired by Edge2 + Cloud in {expired_s:.1f} s, reassigned to Edge3, settled")


def test_revoked_edge_is_refused_and_the_others_carry_on(mem_network: NetworkSpec, tmp_path: Path) -> None:
    spec = _current(mem_network)
    # Before the revocation: a task of Edge2's awarded to Edge1, due after the revocation is through.
    stranded = _award_to_edge1(spec, deadline_s=60)
    change = membership.revoke_edge(spec, "Edge1")
    TIMINGS["revoke edge"] = change
    assert change.signers == ("Admin@Edge1MSP",)  # the MSP value's mod_policy: the org's own Admins
    config = _config(spec).config
    assert membership.revoked_orgs(config, spec.state, spec.topology) == {"Edge1MSP"}
    revoked = _revoked(spec)
    assert revoked == {"Edge1"}
    # revoke_edge returns once the orderer has the config block; the other peers apply the CRL
    # when they commit it
    waits.wait_for_block(spec, change.config_block, skip=revoked)

    # Through another org's peer. Level: MSP. The endorsing peer validates the proposal's creator
    # against the channel's MSP for Edge1MSP, whose CRL lists the certificate ("access denied";
    # the peer logs "The certificate has been revoked").
    revoked = r"access denied: channel \[mec\] creator org \[Edge1MSP\]"  # deserialized, fails Validate()
    with _gateway(spec, _user(spec, "Edge1"), "Cloud") as gw, pytest.raises(EvaluateError, match=revoked):
        gw.network(spec.topology.channel).contract(spec.topology.chaincode.name).evaluate("ListEdges")

    # Through its own peer, which the orderer no longer serves (its peer certificate is revoked
    # too), so it never saw the CRL and still endorses. Level: policy at the orderer. Broadcast
    # checks /Channel/Writers; the revoked signer satisfies none of its sub-policies (FORBIDDEN).
    with Ledger.connect(spec, "Edge1") as edge1, pytest.raises((SubmitError, EndorseError)) as refused:
        _request(edge1)
    text = str(refused.value)
    print(f"\nrevoked Edge1 through its own peer: {type(refused.value).__name__}: {text[:200]}")
    if isinstance(refused.value, SubmitError):
        assert "FORBIDDEN" in text and "Writers" in text, text
    else:  # the own peer had already applied the CRL: refused at the MSP like above
        assert "creator org [Edge1MSP]" in text, text

    # An unknown CA. Level: MSP for a client of a peer's gateway (peers do not ask for client TLS
    # certificates): Edge2MSP cannot even deserialize a certificate that does not chain to its
    # root. TLS on the orderer's admin endpoint (mutual TLS: the handshake fails first).
    intruder, tls_cert, tls_key = _intruder(tmp_path)
    unknown_ca = r"access denied: channel \[mec\] creator org unknown, creator is malformed"
    with _gateway(spec, intruder, "Edge2") as gw, pytest.raises(EvaluateError, match=unknown_ca):
        gw.network(spec.topology.channel).contract(spec.topology.chaincode.name).evaluate("ListEdges")
    tools = FabricTools.locate(spec.fabric_version)
    orderer = spec.topology.orderers_nodes[0]
    with pytest.raises(ToolError) as tls:
        tools.run(
            "osnadmin",
            [
                "channel",
                "list",
                "-o",
                f"127.0.0.1:{orderer.admin_port}",
                "--ca-file",
                str(spec.state.org_tls_ca(orderer.org)),
                "--client-cert",
                str(tls_cert),
                "--client-key",
                str(tls_key),
            ],
            timeout=30,
        )
    assert any(s in tls.value.detail for s in ("tls", "certificate", "EOF", "connection reset")), tls.value.detail
    print(f"\nunknown-CA client at the orderer admin endpoint: {tls.value.detail[-160:]}")

    # The others carry on (every other peer commits it: the expiry below reads the Cloud's state).
    with Ledger.connect(spec, "Edge2") as edge2:
        waits.synced(spec, _register(edge2), skip=revoked)
        _request(edge2, synced=spec, skip=revoked)
    with Ledger.connect(spec, "Edge3") as edge3:
        _request(edge3, synced=spec, skip=revoked)
    # ... and the revoked edge's open task expires and is reassigned.
    _expire_and_reassign(spec, stranded)
    # `network up` again (e.g. `make up`) skips the revoked org instead of waiting for it.
    steps: list[str] = []
    started = time.monotonic()
    up(spec, progress=steps.append, timeout=60)
    assert "skipping revoked org(s) Edge1MSP: their peers cannot endorse" in steps, steps
    print(f"\nup again after the revocation: {time.monotonic() - started:.1f} s")


def test_removed_org_is_refused(mem_network: NetworkSpec) -> None:
    spec = _current(mem_network)
    gone = spec.topology.org("Edge2")
    change = membership.remove_edge(spec, "Edge2")
    TIMINGS["remove edge"] = change
    assert "Admin@Edge2MSP" not in change.signers and len(change.signers) == 3  # MAJORITY of 4
    spec = _current(mem_network)
    assert [o.name for o in spec.topology.peer_orgs] == ["Cloud", "Edge1", "Edge3"]
    assert "Edge2MSP" not in membership.application_orgs(_config(spec).config)
    waits.wait_for_block(spec, change.config_block, skip=_revoked(spec))  # the Cloud's peer applied it
    assert "peer0.edge2.mec" not in {n.host for n in status(spec).nodes}
    client = engine.connect()
    services = {c.labels.get("com.docker.compose.service") for c in engine.project_containers(client, spec.project)}
    assert not {"peer0.edge2.mec", "cc.edge2.mec"} & services
    # Level: MSP. The channel has no MSP called Edge2MSP any more: a peer cannot even deserialize
    # the creator (its peer is gone too, and the orderer serves none of Edge2MSP's identities).
    identity = Identity.from_msp_dir(gone.msp_id, spec.state.user_msp(gone, "User1"))
    unknown_org = r"access denied: channel \[mec\] creator org unknown, creator is malformed"
    with _gateway(spec, identity, "Cloud") as gw, pytest.raises(EvaluateError, match=unknown_org):
        gw.network(spec.topology.channel).contract(spec.topology.chaincode.name).evaluate("ListEdges")
    with Ledger.connect(spec, "Edge3") as edge3:  # a new definition without Edge2: Edge3 still endorses
        _request(edge3)


class _Load(threading.Thread):
    """Light load: one RegisterEdge at a time from the newest edge the earlier tests left in good
    standing (Edge3 after them; Edge2 when the test runs alone: Edge1 is revoked on the way, Edge2
    removed). A transaction whose commit status does not come within 5 s
    is asked for once more ("late" if it comes then), else resubmitted (the same signed envelope),
    as a Fabric client must: Raft drops what reaches a leader handing over."""

    def __init__(self, spec: NetworkSpec) -> None:
        super().__init__(daemon=True)
        self.spec = spec
        self.stop = threading.Event()
        self.committed: list[tuple[float, str, int]] = []  # (monotonic time, tx id, block)
        self.failures: list[str] = []
        self.late: list[float] = []  # when a transaction that committed only after 5 s was sent
        self.resubmitted: list[float] = []  # when a send that never committed was made

    def wait_for_commit_after(self, moment: float, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(c[0] > moment for c in self.committed):
            assert time.monotonic() < deadline, f"no transaction committed within {timeout:.0f} s: {self.failures}"
            time.sleep(0.2)

    def _commit(self, tx: Transaction) -> CommitStatus | None:
        for _attempt in range(4):
            sent = time.monotonic()
            try:
                commit = tx.submit()
            except SubmitError:
                self.resubmitted.append(sent)
                time.sleep(1)
                continue
            for wait in range(2):
                try:
                    result = commit.status()
                except CommitStatusError:
                    continue
                if wait:
                    self.late.append(sent)
                return result
            self.resubmitted.append(sent)
        return None

    def run(self) -> None:
        t = self.spec.topology
        revoked = membership.revoked_locally(self.spec.state, t)
        org = [o for o in t.peer_orgs if o.kind is OrgKind.EDGE and o.msp_id not in revoked][-1].name
        with _gateway(self.spec, _user(self.spec, org), org, timeouts=Timeouts(commit_status=5)) as gw:
            contract = gw.network(t.channel).contract(t.chaincode.name)
            i = 0
            while not self.stop.is_set():
                i += 1
                try:
                    tx = contract.new_proposal("RegisterEdge", str(3_000_000_000 + i), "4096", "5").endorse()
                except LedgerError as exc:
                    self.failures.append(f"endorse: {exc}")
                    continue
                result = self._commit(tx)
                if result is None:
                    self.failures.append(f"{tx.tx_id} never committed")
                elif not result.valid:
                    self.failures.append(f"{tx.tx_id}: {result.code_name}")
                else:
                    self.committed.append((time.monotonic(), tx.tx_id, result.block_number))
                time.sleep(0.1)


def test_a_consenter_change_waits_for_a_healthy_cluster_and_refuses_while_an_orderer_is_down(
    mem_network: NetworkSpec,
) -> None:
    """Fabric would accept adding a fourth consenter with one of three down, leaving 2 of 4 alive:
    one more failure from losing the quorum. `orderer add` refuses it, naming the orderer, and
    writes nothing; with the orderer back, the wait returns."""
    spec = _current(mem_network)
    before = _config(spec)
    fourth = membership.topology_with_orderer(spec.topology).orderers_nodes[-1]
    crypto_before = spec.state.node_dir(fourth).exists()  # plan_add_orderer above may have made it
    follower = next(n for n in spec.topology.orderers_nodes if n not in raft_leaders(spec))
    (container,) = [
        c
        for c in engine.project_containers(engine.connect(), spec.project)
        if c.labels.get("com.docker.compose.service") == follower.host
    ]
    container.stop(timeout=5)
    try:
        with pytest.raises(NetworkError) as info:
            membership.add_orderer(spec, timeout=15)
        message = str(info.value)
        assert "\n" not in message
        assert message.startswith("refusing to add consenter orderer4.orderer.mec:7050: the ordering cluster")
        assert f"{follower.short} (no answer on its operations port)" in message
    finally:
        container.start()
    after = _config(spec)
    assert (after.block_number, after.fingerprint) == (before.block_number, before.fingerprint)
    assert load_topology(spec.state.topology) == spec.topology, "nothing written"
    assert spec.state.node_dir(fourth).exists() == crypto_before, "no crypto made for the refused consenter"
    state = consensus_health.wait_healthy(spec.topology, before="go on", timeout=120)
    assert state.healthy


def test_raft_consenter_added_and_removed_under_load(mem_network: NetworkSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _current(mem_network)
    load = _Load(spec)
    load.start()
    try:
        load.wait_for_commit_after(time.monotonic())
        started = time.monotonic()
        # through the CLI (`mecfab orderer add --json`), pointed at this network
        monkeypatch.setattr(membership_cli, "spec", lambda *args, **kwargs: spec)
        result = CliRunner().invoke(membership_cli.orderer_app, ["add", "--json"])
        assert result.exit_code == 0, result.stderr
        assert "==> adding consenter orderer4.orderer.mec:7050" in result.stderr  # progress lines
        data = json.loads(result.stdout)
        TIMINGS["add orderer"] = membership.Change(**{**data, "signers": tuple(data["signers"])})
        added = time.monotonic()
        spec = _current(mem_network)
        assert data["target"] == "orderer4" and data["signers"] == ["Admin@OrdererMSP"]
        assert "orderer4.orderer.mec:7050" in membership.raft_consenters(_config(spec).config)
        load.wait_for_commit_after(added)  # ordering goes on with 4 consenters
        fifth = membership.add_orderer(spec)  # ... and a fifth, through the library
        TIMINGS["add fifth orderer"] = fifth
        added = time.monotonic()
        spec = _current(mem_network)
        assert fifth.target == "orderer5"
        assert len(membership.raft_consenters(_config(spec).config)) == 5
        load.wait_for_commit_after(added)  # ordering goes on with 5 consenters
        # the leader leaves: the hardest removal (Raft hands leadership over first)
        (leader,) = raft_leaders(spec)
        change = membership.remove_orderer(spec, leader.short)
        TIMINGS["remove orderer"] = change
        removed = time.monotonic()
        load.wait_for_commit_after(removed)  # ... and with the 4 left
    finally:
        load.stop.set()
        load.join(timeout=60)
    spec = _current(mem_network)
    consenters = membership.raft_consenters(_config(spec).config)
    assert len(consenters) == 4 and f"{leader.host}:7050" not in consenters
    assert leader.host not in {n.host for n in status(spec).nodes}
    assert len(raft_leaders(spec)) == 1
    # no lost transaction: every one the load endorsed committed, valid (some after a resubmission)
    assert not load.failures, load.failures
    times = [started, *(c[0] for c in load.committed if c[0] >= started)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) < 25, f"no commit for {max(gaps):.1f} s while the orderer set changed"

    def phases(moments: list[float]) -> str:
        adding = sum(started <= x <= added for x in moments)
        return f"{adding} while adding orderer4 and 5, {len(moments) - adding} while removing the leader {leader.short}"

    print(
        f"\n{len(load.committed)} transactions committed under load, longest gap {max(gaps):.1f} s; "
        f"late: {phases(load.late)}; resubmitted: {phases(load.resubmitted)}"
    )
