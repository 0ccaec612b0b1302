"""Unit tests of the Gateway client's offline parts: identity, signing, proposal building and parsing."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from orchestrator.errors import ConfigError, LedgerError
from orchestrator.gateway import (
    CommitError,
    CommitStatus,
    Gateway,
    Identity,
    PhaseTimings,
    Timeouts,
)
from orchestrator.gateway import proposal as protos
from orchestrator.gateway.client import MAX_MESSAGE_BYTES, channel_options

common_pb2: Any = importlib.import_module("fabric_protos.common.common_pb2")
gateway_pb2: Any = importlib.import_module("fabric_protos.gateway.gateway_pb2")
identities_pb2: Any = importlib.import_module("fabric_protos.msp.identities_pb2")
chaincode_pb2: Any = importlib.import_module("fabric_protos.peer.chaincode_pb2")
proposal_pb2: Any = importlib.import_module("fabric_protos.peer.proposal_pb2")
proposal_response_pb2: Any = importlib.import_module("fabric_protos.peer.proposal_response_pb2")
transaction_pb2: Any = importlib.import_module("fabric_protos.peer.transaction_pb2")

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
MSP_ID = "Edge1MSP"


def _self_signed(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, cn: str = "User1@edge1.mec") -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_msp(
    root: Path,
    *,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    cert_pem: bytes,
    key_name: str = "priv_sk",
) -> Path:
    (root / "signcerts").mkdir(parents=True)
    (root / "keystore").mkdir()
    (root / "cacerts").mkdir()
    (root / "signcerts" / "User1@edge1.mec-cert.pem").write_bytes(cert_pem)
    (root / "keystore" / key_name).write_bytes(_key_pem(key))
    return root


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def msp_dir(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> Path:
    return _write_msp(tmp_path / "msp", key=ec_key, cert_pem=_self_signed(ec_key))


@pytest.fixture
def identity(msp_dir: Path) -> Identity:
    return Identity.from_msp_dir(MSP_ID, msp_dir)


def _verify(identity: Identity, signature: bytes, message: bytes) -> None:
    identity.private_key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))


# --- identity -----------------------------------------------------------------------------------


def test_identity_loads_cryptogen_msp_dir(msp_dir: Path, identity: Identity) -> None:
    assert identity.msp_id == MSP_ID
    assert identity.cert == (msp_dir / "signcerts" / "User1@edge1.mec-cert.pem").read_bytes()
    decoded = identities_pb2.SerializedIdentity.FromString(identity.serialized())
    assert decoded.mspid == MSP_ID
    assert decoded.id_bytes == identity.cert


def test_identity_accepts_fabric_ca_key_name(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    msp = _write_msp(tmp_path / "msp", key=ec_key, cert_pem=_self_signed(ec_key), key_name="4f1e2a_sk")
    assert Identity.from_msp_dir(MSP_ID, msp).msp_id == MSP_ID


def test_identity_repr_hides_private_key(identity: Identity) -> None:
    assert "private_key" not in repr(identity)


def test_identity_rejects_key_not_matching_cert(tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    msp = _write_msp(tmp_path / "msp", key=other, cert_pem=_self_signed(ec_key))
    with pytest.raises(ConfigError, match="does not match"):
        Identity.from_msp_dir(MSP_ID, msp)


def test_identity_rejects_rsa_key(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    msp = _write_msp(tmp_path / "msp", key=key, cert_pem=_self_signed(key))
    with pytest.raises(ConfigError, match="not an EC private key"):
        Identity.from_msp_dir(MSP_ID, msp)


def test_identity_rejects_unsupported_curve(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256K1())
    msp = _write_msp(tmp_path / "msp", key=key, cert_pem=_self_signed(key))
    with pytest.raises(ConfigError, match="unsupported key curve"):
        Identity.from_msp_dir(MSP_ID, msp)


def test_identity_reports_missing_or_ambiguous_signcerts(msp_dir: Path) -> None:
    extra = msp_dir / "signcerts" / "second.pem"
    extra.write_bytes(b"x")
    with pytest.raises(ConfigError, match="exactly one signing certificate"):
        Identity.from_msp_dir(MSP_ID, msp_dir)
    for pem in (msp_dir / "signcerts").iterdir():
        pem.unlink()
    with pytest.raises(ConfigError, match="found nothing"):
        Identity.from_msp_dir(MSP_ID, msp_dir)


def test_signatures_verify_and_are_always_low_s(identity: Identity) -> None:
    # Without normalization about half of the signatures would have s > n/2.
    for i in range(300):
        message = f"message {i}".encode()
        signature = identity.sign(message)
        _verify(identity, signature, message)
        _, s = decode_dss_signature(signature)
        assert 0 < s <= P256_ORDER // 2


def test_signature_does_not_verify_for_another_message(identity: Identity) -> None:
    signature = identity.sign(b"original")
    with pytest.raises(InvalidSignature):
        _verify(identity, signature, b"tampered")


# --- proposal building ----------------------------------------------------------------------------


def test_transaction_id_is_sha256_of_nonce_and_creator(identity: Identity) -> None:
    nonce = protos.new_nonce()
    creator = identity.serialized()
    assert len(nonce) == 24
    assert nonce != protos.new_nonce()
    assert protos.transaction_id(nonce, creator) == hashlib.sha256(nonce + creator).hexdigest()


def test_chaincode_args_encode_function_first() -> None:
    assert protos.chaincode_args("Put", ["k", b"\x00\xff"]) == [b"Put", b"k", b"\x00\xff"]
    assert protos.chaincode_args("Ping", []) == [b"Ping"]


def _decode_proposal(proposal_bytes: bytes) -> tuple[Any, Any, Any, Any, Any]:
    proposal = proposal_pb2.Proposal.FromString(proposal_bytes)
    header = common_pb2.Header.FromString(proposal.header)
    channel_header = common_pb2.ChannelHeader.FromString(header.channel_header)
    signature_header = common_pb2.SignatureHeader.FromString(header.signature_header)
    payload = proposal_pb2.ChaincodeProposalPayload.FromString(proposal.payload)
    spec = chaincode_pb2.ChaincodeInvocationSpec.FromString(payload.input)
    extension = proposal_pb2.ChaincodeHeaderExtension.FromString(channel_header.extension)
    return channel_header, signature_header, payload, spec, extension


def test_built_proposal_decodes_back(identity: Identity) -> None:
    creator = identity.serialized()
    nonce = b"n" * 24
    before = dt.datetime.now(dt.UTC)
    built = protos.build_proposal(
        creator=creator,
        channel="mec",
        chaincode="tasks",
        function="CreateTask",
        args=["t1", b"\x01\x02"],
        transient={"secret": b"s3cr3t"},
        nonce=nonce,
    )
    channel_header, signature_header, payload, spec, extension = _decode_proposal(built.proposal_bytes)

    assert built.tx_id == hashlib.sha256(nonce + creator).hexdigest()
    assert built.nonce == nonce
    assert channel_header.type == common_pb2.HeaderType.Value("ENDORSER_TRANSACTION")
    assert channel_header.channel_id == "mec"
    assert channel_header.tx_id == built.tx_id
    assert channel_header.epoch == 0
    stamp = channel_header.timestamp.ToDatetime(tzinfo=dt.UTC)
    assert before - dt.timedelta(seconds=1) <= stamp <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert extension.chaincode_id.name == "tasks"
    assert signature_header.creator == creator
    assert signature_header.nonce == nonce
    assert spec.chaincode_spec.chaincode_id.name == "tasks"
    assert list(spec.chaincode_spec.input.args) == [b"CreateTask", b"t1", b"\x01\x02"]
    assert dict(payload.TransientMap) == {"secret": b"s3cr3t"}


def test_built_proposal_without_transient_and_with_fixed_time(identity: Identity) -> None:
    when = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
    built = protos.build_proposal(
        creator=identity.serialized(), channel="c", chaincode="cc", function="Get", timestamp=when
    )
    channel_header, _, payload, spec, _ = _decode_proposal(built.proposal_bytes)
    assert channel_header.timestamp.ToDatetime(tzinfo=dt.UTC) == when
    assert dict(payload.TransientMap) == {}
    assert list(spec.chaincode_spec.input.args) == [b"Get"]


def test_signed_proposal_carries_verifiable_signature(identity: Identity) -> None:
    built = protos.build_proposal(creator=identity.serialized(), channel="c", chaincode="cc", function="F")
    signed = proposal_pb2.SignedProposal.FromString(
        protos.signed_proposal(built.proposal_bytes, identity.sign(built.proposal_bytes))
    )
    assert signed.proposal_bytes == built.proposal_bytes
    _verify(identity, signed.signature, signed.proposal_bytes)


def test_commit_status_request_decodes(identity: Identity) -> None:
    request = gateway_pb2.CommitStatusRequest.FromString(
        protos.commit_status_request(tx_id="abc", channel="mec", creator=identity.serialized())
    )
    assert (request.transaction_id, request.channel_id) == ("abc", "mec")
    assert request.identity == identity.serialized()


def test_chaincode_events_request_defaults_to_next_commit(identity: Identity) -> None:
    request = gateway_pb2.ChaincodeEventsRequest.FromString(
        protos.chaincode_events_request(channel="mec", chaincode="tasks", creator=identity.serialized())
    )
    assert (request.channel_id, request.chaincode_id) == ("mec", "tasks")
    assert request.identity == identity.serialized()
    assert request.start_position.WhichOneof("Type") == "next_commit"
    assert request.after_transaction_id == ""


def test_chaincode_events_request_from_block_after_tx(identity: Identity) -> None:
    request = gateway_pb2.ChaincodeEventsRequest.FromString(
        protos.chaincode_events_request(
            channel="mec", chaincode="tasks", creator=b"me", start_block=7, after_tx_id="tx6"
        )
    )
    assert request.start_position.WhichOneof("Type") == "specified"
    assert request.start_position.specified.number == 7
    assert request.after_transaction_id == "tx6"


# --- prepared transaction parsing -----------------------------------------------------------------


def _action_payload(result: bytes) -> bytes:
    chaincode_action = proposal_pb2.ChaincodeAction(response=proposal_response_pb2.Response(status=200, payload=result))
    response_payload = proposal_response_pb2.ProposalResponsePayload(
        proposal_hash=b"h", extension=chaincode_action.SerializeToString()
    )
    return bytes(
        transaction_pb2.ChaincodeActionPayload(
            action=transaction_pb2.ChaincodeEndorsedAction(
                proposal_response_payload=response_payload.SerializeToString()
            )
        ).SerializeToString()
    )


def _envelope_payload(*actions: bytes, channel: str = "mec", tx_id: str = "tx1") -> bytes:
    channel_header = common_pb2.ChannelHeader(
        type=common_pb2.HeaderType.Value("ENDORSER_TRANSACTION"), channel_id=channel, tx_id=tx_id
    )
    transaction = transaction_pb2.Transaction(
        actions=[transaction_pb2.TransactionAction(header=b"", payload=a) for a in actions]
    )
    payload = common_pb2.Payload(
        header=common_pb2.Header(channel_header=channel_header.SerializeToString()),
        data=transaction.SerializeToString(),
    )
    return bytes(payload.SerializeToString())


def test_result_extracted_from_prepared_envelope() -> None:
    info = protos.parse_prepared_payload(_envelope_payload(_action_payload(b'{"id":"t1"}')))
    assert info == protos.PreparedTransactionInfo(channel="mec", tx_id="tx1", result=b'{"id":"t1"}')


def test_result_skips_undecodable_action() -> None:
    info = protos.parse_prepared_payload(_envelope_payload(b"\xff\xff\xff", _action_payload(b"ok")))
    assert info.result == b"ok"


def test_prepared_envelope_without_actions_is_an_error() -> None:
    with pytest.raises(LedgerError, match="tx9 holds no proposal response"):
        protos.parse_prepared_payload(_envelope_payload(tx_id="tx9"))


def test_garbage_prepared_envelope_is_an_error() -> None:
    with pytest.raises(LedgerError, match="malformed"):
        protos.parse_prepared_payload(b"\xff\xff\xff\xff")


# --- commit status --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("VALID", 0),
        ("ENDORSEMENT_POLICY_FAILURE", 10),
        ("MVCC_READ_CONFLICT", 11),
        ("PHANTOM_READ_CONFLICT", 12),
    ],
)
def test_validation_code_names_follow_tx_validation_code(name: str, number: int) -> None:
    assert transaction_pb2.TxValidationCode.Value(name) == number
    assert protos.validation_code_name(number) == name


def test_unknown_validation_code_gets_a_name() -> None:
    assert protos.validation_code_name(9999) == "UNKNOWN_CODE_9999"


def test_commit_status_valid_only_for_valid_code() -> None:
    assert CommitStatus(tx_id="a", code=0, code_name="VALID", block_number=5).valid
    assert not CommitStatus(tx_id="a", code=11, code_name="MVCC_READ_CONFLICT", block_number=5).valid


def test_commit_error_names_the_code() -> None:
    error = CommitError(tx_id="tx42", code=11, block_number=8)
    assert isinstance(error, LedgerError)
    assert (error.tx_id, error.code, error.code_name, error.block_number) == (
        "tx42",
        11,
        "MVCC_READ_CONFLICT",
        8,
    )
    assert str(error) == "transaction tx42 failed to commit in block 8 with status code 11 (MVCC_READ_CONFLICT)"


def test_phase_timings_total() -> None:
    assert PhaseTimings(endorse_s=0.25, submit_s=0.5, commit_s=1.0).total_s == pytest.approx(1.75)


# --- client, offline ------------------------------------------------------------------------------


def test_channel_options_set_limits_and_name_override() -> None:
    options = dict(channel_options("peer0.edge1.mec"))
    assert options["grpc.max_send_message_length"] == MAX_MESSAGE_BYTES == 100 * 1024 * 1024
    assert options["grpc.max_receive_message_length"] == MAX_MESSAGE_BYTES
    assert options["grpc.ssl_target_name_override"] == "peer0.edge1.mec"
    assert options["grpc.keepalive_time_ms"] >= 60_000  # Fabric's server rejects faster pings
    assert "grpc.ssl_target_name_override" not in dict(channel_options())


def test_gateway_builds_proposals_without_contacting_a_peer(identity: Identity) -> None:
    # A gRPC channel connects lazily, so building a proposal needs no peer.
    tls_root = _self_signed(ec.generate_private_key(ec.SECP256R1()), cn="tlsca.edge1.mec")
    with Gateway(
        endpoint="localhost:1",
        tls_root_cert=tls_root,
        identity=identity,
        server_name_override="peer0.edge1.mec",
        timeouts=Timeouts(evaluate=1.0),
    ) as gateway:
        assert gateway.timeouts.evaluate == 1.0
        assert gateway.timeouts.commit_status == 60.0
        contract = gateway.network("mec").contract("tasks")
        proposal = contract.new_proposal("Put", "k", b"v", transient={"t": b"x"}, endorsing_orgs=["Edge1MSP"])
        channel_header, signature_header, payload, spec, _ = _decode_proposal(proposal.proposal_bytes)
        assert channel_header.tx_id == proposal.tx_id
        assert channel_header.channel_id == "mec"
        assert signature_header.creator == identity.serialized()
        assert proposal.tx_id == hashlib.sha256(signature_header.nonce + identity.serialized()).hexdigest()
        assert list(spec.chaincode_spec.input.args) == [b"Put", b"k", b"v"]
        assert dict(payload.TransientMap) == {"t": b"x"}
        assert contract.new_proposal("Put").tx_id != proposal.tx_id
    gateway.close()  # idempotent


def test_chaincode_args_refuse_text_that_is_not_unicode() -> None:
    from orchestrator.errors import ConfigError
    from orchestrator.gateway.proposal import chaincode_args

    assert chaincode_args("ReadTask", ["t-1", b"\xff"]) == [b"ReadTask", b"t-1", b"\xff"]
    with pytest.raises(ConfigError, match=r"argument 2 of 'ReadTask' is not valid UTF-8 text: '\\udcff'"):
        chaincode_args("ReadTask", ["t-1", "\udcff"])
