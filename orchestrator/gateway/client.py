"""A Fabric Gateway client over gRPC, with the phases of fabric-gateway (endorse, submit, commit).

Example::

    with Gateway(endpoint="localhost:7051", tls_root_cert=ca, identity=me,
                 server_name_override="peer0.edge1.mec") as gw:
        contract = gw.network("mec").contract("tasks")
        result = contract.submit("CreateTask", "t1", "payload")
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import grpc

from orchestrator.gateway import proposal as protos
from orchestrator.gateway.errors import (
    ChaincodeEventsError,
    CommitError,
    CommitStatusError,
    EndorseError,
    EvaluateError,
    SubmitError,
    submit_error_unless_ordered,
)
from orchestrator.gateway.identity import Identity

# The generated protobuf modules build their classes at import time (invisible to mypy): load them as Any.
common_pb2: Any = importlib.import_module("fabric_protos.common.common_pb2")
gateway_pb2: Any = importlib.import_module("fabric_protos.gateway.gateway_pb2")
gateway_pb2_grpc: Any = importlib.import_module("fabric_protos.gateway.gateway_pb2_grpc")
proposal_pb2: Any = importlib.import_module("fabric_protos.peer.proposal_pb2")

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class Timeouts:
    """Per-call deadlines in seconds."""

    evaluate: float = 30.0
    endorse: float = 30.0
    submit: float = 10.0
    commit_status: float = 60.0


@dataclass(frozen=True)
class CommitStatus:
    """The validation outcome of a committed transaction."""

    tx_id: str
    code: int
    code_name: str
    block_number: int

    @property
    def valid(self) -> bool:
        return self.code == protos.VALID_CODE


@dataclass(frozen=True)
class PhaseTimings:
    """Wall time of each submit phase in seconds (``time.perf_counter``)."""

    endorse_s: float
    submit_s: float
    commit_s: float

    @property
    def total_s(self) -> float:
        return self.endorse_s + self.submit_s + self.commit_s


@dataclass(frozen=True)
class SubmitResult:
    """A committed, valid transaction: its id, chaincode result, block and phase timings."""

    tx_id: str
    result: bytes
    block_number: int
    timings: PhaseTimings


@dataclass(frozen=True)
class ChaincodeEvent:
    """One chaincode event from a committed block."""

    block_number: int
    tx_id: str
    chaincode: str
    event_name: str
    payload: bytes


def channel_options(server_name_override: str | None = None) -> list[tuple[str, Any]]:
    """gRPC channel options: 100 MB messages, keepalive gentle enough for Fabric's 60 s minimum."""
    options: list[tuple[str, Any]] = [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", 120_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.http2.max_pings_without_data", 0),
    ]
    if server_name_override:
        options.append(("grpc.ssl_target_name_override", server_name_override))
    return options


class Gateway:
    """A connection to one peer's Gateway service; owns one gRPC channel."""

    def __init__(
        self,
        *,
        endpoint: str,
        tls_root_cert: bytes,
        identity: Identity,
        server_name_override: str | None = None,
        timeouts: Timeouts | None = None,
        tls_client_cert: bytes | None = None,
        tls_client_key: bytes | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.identity = identity
        self.timeouts = timeouts or Timeouts()
        credentials = grpc.ssl_channel_credentials(
            root_certificates=tls_root_cert,
            private_key=tls_client_key,
            certificate_chain=tls_client_cert,
        )
        self._channel: Any = grpc.secure_channel(endpoint, credentials, options=channel_options(server_name_override))
        self._stub: Any = gateway_pb2_grpc.GatewayStub(self._channel)
        self._creator = identity.serialized()
        self._closed = False
        log.debug("gateway channel to %s as %s", endpoint, identity.msp_id)

    def network(self, channel: str) -> Network:
        return Network(self, channel)

    def close(self) -> None:
        """Close the channel (cancels any open event streams). Idempotent."""
        if not self._closed:
            self._closed = True
            self._channel.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Network:
    """One channel seen through a gateway."""

    def __init__(self, gateway: Gateway, channel: str) -> None:
        self.gateway = gateway
        self.channel = channel

    def contract(self, chaincode: str) -> Contract:
        return Contract(self, chaincode)

    def chaincode_events(
        self, chaincode: str, *, start_block: int | None = None, after_tx_id: str | None = None
    ) -> ChaincodeEventStream:
        """Stream ``chaincode``'s events from ``start_block`` (default: the next commit)."""
        gw = self.gateway
        request = protos.chaincode_events_request(
            channel=self.channel,
            chaincode=chaincode,
            creator=gw._creator,
            start_block=start_block,
            after_tx_id=after_tx_id,
        )
        signed = gateway_pb2.SignedChaincodeEventsRequest(request=request, signature=gw.identity.sign(request))
        return ChaincodeEventStream(gw._stub.ChaincodeEvents(signed))


class Contract:
    """A chaincode on a channel."""

    def __init__(self, network: Network, chaincode: str) -> None:
        self.network = network
        self.chaincode = chaincode

    def new_proposal(
        self,
        function: str,
        *args: str | bytes,
        transient: Mapping[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
        timestamp: datetime | None = None,
    ) -> Proposal:
        """Build (but do not send) a proposal; ``endorsing_orgs`` are MSP ids. ``timestamp`` stamps the
        proposal with another time than now (what a client with a wrong clock sends; tests use it)."""
        gw = self.network.gateway
        built = protos.build_proposal(
            creator=gw._creator,
            channel=self.network.channel,
            chaincode=self.chaincode,
            function=function,
            args=args,
            transient=transient,
            timestamp=timestamp,
        )
        return Proposal(self.network, built, tuple(endorsing_orgs or ()))

    def evaluate(
        self,
        function: str,
        *args: str | bytes,
        transient: Mapping[str, bytes] | None = None,
        target_orgs: Sequence[str] | None = None,
    ) -> bytes:
        """Run a query on one peer and return the chaincode's response payload."""
        return self.new_proposal(function, *args, transient=transient, endorsing_orgs=target_orgs).evaluate()

    def submit(
        self,
        function: str,
        *args: str | bytes,
        transient: Mapping[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> SubmitResult:
        """Endorse, submit and wait for commit; raises ``CommitError`` unless the transaction is VALID."""
        started = time.perf_counter()
        proposal = self.new_proposal(function, *args, transient=transient, endorsing_orgs=endorsing_orgs)
        transaction = proposal.endorse()
        endorsed = time.perf_counter()
        commit = transaction.submit()
        submitted = time.perf_counter()
        status = commit.status()
        committed = time.perf_counter()
        if not status.valid:
            raise CommitError(tx_id=status.tx_id, code=status.code, block_number=status.block_number)
        return SubmitResult(
            tx_id=transaction.tx_id,
            result=transaction.result,
            block_number=status.block_number,
            timings=PhaseTimings(
                endorse_s=endorsed - started, submit_s=submitted - endorsed, commit_s=committed - submitted
            ),
        )


class Proposal:
    """A transaction proposal, signed on first use."""

    def __init__(self, network: Network, built: protos.BuiltProposal, endorsing_orgs: tuple[str, ...]) -> None:
        self._network = network
        self._built = built
        self._endorsing_orgs = endorsing_orgs
        self._signature: bytes | None = None

    @property
    def tx_id(self) -> str:
        return self._built.tx_id

    @property
    def proposal_bytes(self) -> bytes:
        """The serialized ``peer.Proposal``."""
        return self._built.proposal_bytes

    def _signed_proposal(self) -> Any:
        if self._signature is None:
            self._signature = self._network.gateway.identity.sign(self._built.proposal_bytes)
        return proposal_pb2.SignedProposal(proposal_bytes=self._built.proposal_bytes, signature=self._signature)

    def evaluate(self) -> bytes:
        """Send to one peer without ordering; returns the chaincode response payload."""
        gw = self._network.gateway
        request = gateway_pb2.EvaluateRequest(
            transaction_id=self.tx_id,
            channel_id=self._network.channel,
            proposed_transaction=self._signed_proposal(),
            target_organizations=self._endorsing_orgs,
        )
        log.debug("evaluate %s", self.tx_id)
        try:
            response = gw._stub.Evaluate(request, timeout=gw.timeouts.evaluate)
        except grpc.RpcError as exc:
            raise EvaluateError.from_rpc_error(exc, tx_id=self.tx_id) from exc
        return bytes(response.result.payload)

    def endorse(self) -> Transaction:
        """Collect endorsements; returns the prepared (unsigned) transaction."""
        gw = self._network.gateway
        request = gateway_pb2.EndorseRequest(
            transaction_id=self.tx_id,
            channel_id=self._network.channel,
            proposed_transaction=self._signed_proposal(),
            endorsing_organizations=self._endorsing_orgs,
        )
        log.debug("endorse %s", self.tx_id)
        try:
            response = gw._stub.Endorse(request, timeout=gw.timeouts.endorse)
        except grpc.RpcError as exc:
            raise EndorseError.from_rpc_error(exc, tx_id=self.tx_id) from exc
        payload = bytes(response.prepared_transaction.payload)
        info = protos.parse_prepared_payload(payload)
        return Transaction(self._network, tx_id=self.tx_id, payload=payload, result=info.result)


class Transaction:
    """An endorsed transaction, ready to sign and send to ordering."""

    def __init__(self, network: Network, *, tx_id: str, payload: bytes, result: bytes) -> None:
        self._network = network
        self.tx_id = tx_id
        self.result = result
        self._payload = payload
        self._signature: bytes | None = None

    def submit(self) -> Commit:
        """Sign the envelope payload and hand the transaction to the orderer via the gateway."""
        gw = self._network.gateway
        if self._signature is None:
            self._signature = gw.identity.sign(self._payload)
        request = gateway_pb2.SubmitRequest(
            transaction_id=self.tx_id,
            channel_id=self._network.channel,
            prepared_transaction=common_pb2.Envelope(payload=self._payload, signature=self._signature),
        )
        log.debug("submit %s", self.tx_id)
        already: SubmitError | None = None
        try:
            gw._stub.Submit(request, timeout=gw.timeouts.submit)
        except grpc.RpcError as exc:
            already = submit_error_unless_ordered(exc, tx_id=self.tx_id)
        return Commit(self._network, tx_id=self.tx_id, already_with_orderers=already)


class Commit:
    """A submitted transaction whose commit status can be awaited."""

    def __init__(self, network: Network, *, tx_id: str, already_with_orderers: SubmitError | None = None) -> None:
        self._network = network
        self.tx_id = tx_id
        # Set when the orderers answered that they already had (or had ordered) this transaction:
        # e.g. the same signed envelope sent twice to a BFT ordering service.
        self.already_with_orderers = already_with_orderers
        gw = network.gateway
        self._request = protos.commit_status_request(tx_id=tx_id, channel=network.channel, creator=gw._creator)
        self._signature = gw.identity.sign(self._request)

    def status(self) -> CommitStatus:
        """Block until the transaction is in a block (or the deadline passes); returns its status."""
        gw = self._network.gateway
        request = gateway_pb2.SignedCommitStatusRequest(request=self._request, signature=self._signature)
        try:
            response = gw._stub.CommitStatus(request, timeout=gw.timeouts.commit_status)
        except grpc.RpcError as exc:
            raise CommitStatusError.from_rpc_error(exc, tx_id=self.tx_id) from exc
        code = int(response.result)
        status = CommitStatus(
            tx_id=self.tx_id,
            code=code,
            code_name=protos.validation_code_name(code),
            block_number=int(response.block_number),
        )
        log.debug("commit %s: %s in block %d", self.tx_id, status.code_name, status.block_number)
        return status


class ChaincodeEventStream:
    """An iterable of ``ChaincodeEvent``; ``close()`` cancels the underlying stream."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self._closed = threading.Event()
        self._events = self._generate()

    def __iter__(self) -> Iterator[ChaincodeEvent]:
        return self._events

    def _generate(self) -> Iterator[ChaincodeEvent]:
        try:
            for response in self._call:
                block_number = int(response.block_number)
                for event in response.events:
                    yield ChaincodeEvent(
                        block_number=block_number,
                        tx_id=str(event.tx_id),
                        chaincode=str(event.chaincode_id),
                        event_name=str(event.event_name),
                        payload=bytes(event.payload),
                    )
        except grpc.RpcError as exc:
            if self._closed.is_set() or _call_code(exc) == grpc.StatusCode.CANCELLED:
                return
            raise ChaincodeEventsError.from_rpc_error(exc) from exc

    def close(self) -> None:
        """Cancel the stream; iteration then ends quietly. Idempotent, safe from another thread."""
        if not self._closed.is_set():
            self._closed.set()
            self._call.cancel()

    def __enter__(self) -> ChaincodeEventStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _call_code(error: object) -> Any:
    code = getattr(error, "code", None)
    return code() if callable(code) else None
