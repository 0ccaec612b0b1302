"""The asyncio Gateway client against an in-process grpc.aio Gateway server over TLS: the phases, the
signatures the server receives, and per-phase errors carrying the transaction ID."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orchestrator.gateway.aio import AsyncGateway
from orchestrator.gateway.errors import (
    STATUS_DETAILS_KEY,
    CommitStatusError,
    EndorseError,
    EvaluateError,
    SubmitError,
)
from orchestrator.gateway.identity import Identity
from tests.unit.rpc_status import status_bytes

common_pb2: Any = importlib.import_module("fabric_protos.common.common_pb2")
gateway_pb2: Any = importlib.import_module("fabric_protos.gateway.gateway_pb2")
gateway_pb2_grpc: Any = importlib.import_module("fabric_protos.gateway.gateway_pb2_grpc")
proposal_response_pb2: Any = importlib.import_module("fabric_protos.peer.proposal_response_pb2")

HOST = "peer0.edge1.mec"


def _cert(key: ec.EllipticCurvePrivateKey, name: str) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


class _Gateway(gateway_pb2_grpc.GatewayServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.seen: dict[str, list[str]] = {"endorse": [], "submit": [], "commit": [], "evaluate": []}
        self.refuse: set[str] = set()

    async def Endorse(self, request: Any, context: Any) -> Any:
        self.seen["endorse"].append(request.transaction_id)
        assert request.proposed_transaction.signature
        if "endorse" in self.refuse:
            await context.abort(grpc.StatusCode.ABORTED, "chaincode response 500, task t-1 already exists")
        return gateway_pb2.EndorseResponse(prepared_transaction=common_pb2.Envelope(payload=b"payload"))

    async def Submit(self, request: Any, context: Any) -> Any:
        self.seen["submit"].append(request.transaction_id)
        assert request.prepared_transaction.payload == b"payload" and request.prepared_transaction.signature
        if "submit" in self.refuse:
            # What a BFT gateway answers when fewer than a quorum of orderers took the transaction.
            info = "failed to submit request: request already processed" if "already" in self.refuse else "refused"
            detail = gateway_pb2.ErrorDetail(address="orderer3.orderer.mec:7050", msp_id="OrdererMSP", message=info)
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                "insufficient number of orderers",
                trailing_metadata=((STATUS_DETAILS_KEY, status_bytes(14, "quorum", [detail])),),
            )
        return gateway_pb2.SubmitResponse()

    async def CommitStatus(self, request: Any, context: Any) -> Any:
        body = gateway_pb2.CommitStatusRequest.FromString(request.request)
        self.seen["commit"].append(body.transaction_id)
        if "commit" in self.refuse:
            await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "no block yet")
        return gateway_pb2.CommitStatusResponse(result=11 if "invalid" in self.refuse else 0, block_number=42)

    async def Evaluate(self, request: Any, context: Any) -> Any:
        self.seen["evaluate"].append(request.transaction_id)
        if "evaluate" in self.refuse:
            await context.abort(grpc.StatusCode.NOT_FOUND, "task t-404 does not exist")
        return gateway_pb2.EvaluateResponse(result=proposal_response_pb2.Response(status=200, payload=b'{"ok":1}'))


async def _served() -> AsyncIterator[tuple[AsyncGateway, _Gateway]]:
    """A TLS Gateway server in this event loop and a client connected to it (torn down after the one yield)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert(key, HOST)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    server = grpc.aio.server()
    servicer = _Gateway()
    gateway_pb2_grpc.add_GatewayServicer_to_server(servicer, server)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key_pem, cert)]))
    await server.start()
    user_key = ec.generate_private_key(ec.SECP256R1())
    identity = Identity(msp_id="Edge1MSP", cert=_cert(user_key, "User1@edge1.mec"), private_key=user_key)
    gw = AsyncGateway(endpoint=f"127.0.0.1:{port}", tls_root_cert=cert, identity=identity, server_name_override=HOST)
    try:
        await gw.wait_ready(5)
        yield gw, servicer
    finally:
        await gw.close()
        await server.stop(None)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_submit_goes_through_every_phase_with_monotonic_stamps() -> None:
    async def go() -> None:
        async for gw, servicer in _served():
            status, stamps = await gw.contract("mec", "mectask").submit("RequestTask", "t-1", "5")
            assert status.valid and status.block_number == 42
            assert stamps.proposed <= stamps.endorsed <= stamps.submitted <= stamps.committed
            assert stamps.endorse_s >= 0 and stamps.submit_s >= 0 and stamps.commit_s >= 0
            tx = servicer.seen["endorse"][0]
            assert len(tx) == 64 and servicer.seen["submit"] == [tx] and servicer.seen["commit"] == [tx]
            servicer.refuse.add("invalid")
            status, _ = await gw.contract("mec", "mectask").submit("RequestTask", "t-2", "5")
            assert not status.valid and status.code_name == "MVCC_READ_CONFLICT"

    _run(go())


def test_each_phase_fails_with_its_own_error_naming_the_transaction() -> None:
    async def go() -> None:
        async for gw, servicer in _served():
            contract = gw.contract("mec", "mectask")
            servicer.refuse = {"endorse"}
            proposal = contract.new_proposal("RequestTask", "t-1")
            with pytest.raises(EndorseError) as endorse:
                await proposal.endorse()
            assert endorse.value.tx_id == proposal.tx_id and endorse.value.code_name == "ABORTED"
            assert "already exists" in str(endorse.value)
            servicer.refuse = {"commit"}
            proposal = contract.new_proposal("RequestTask", "t-2")
            commit = await (await proposal.endorse()).submit()
            with pytest.raises(CommitStatusError) as late:
                await commit.status()
            assert late.value.tx_id == proposal.tx_id
            servicer.refuse = {"evaluate"}
            with pytest.raises(EvaluateError, match="does not exist"):
                await contract.evaluate("ReadTask", "t-404")
            servicer.refuse = set()
            assert await contract.evaluate("ReadTask", "t-1") == b'{"ok":1}'

    _run(go())


def test_a_submit_the_orderers_already_have_is_awaited_and_one_they_lack_fails() -> None:
    async def go() -> None:
        async for gw, servicer in _served():
            contract = gw.contract("mec", "mectask")
            servicer.refuse = {"submit", "already"}
            status, _ = await contract.submit("RequestTask", "t-1", "5")
            assert status.valid and servicer.seen["commit"] == servicer.seen["submit"]
            servicer.refuse = {"submit"}
            with pytest.raises(SubmitError, match="refused"):
                await contract.submit("RequestTask", "t-2", "5")
            assert len(servicer.seen["commit"]) == 1

    _run(go())
