"""An asyncio (``grpc.aio``) Fabric Gateway client for load generation.

The same phases as :mod:`orchestrator.gateway.client` (evaluate; endorse → submit → commit
status) and the same per-phase errors, but every call is a coroutine, so one event loop keeps
hundreds of transactions in flight over one HTTP/2 connection per peer. Each phase is stamped
with ``time.monotonic()`` (system-wide on Linux, so stamps from several worker processes compare).

Example::

    async with AsyncGateway(endpoint="127.0.0.1:7051", tls_root_cert=ca, identity=me,
                            server_name_override="peer0.edge1.mec") as gw:
        contract = gw.contract("mec", "mectask")
        proposal = contract.new_proposal("ReadTask", "t-1")
        payload = await proposal.evaluate()
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc
import grpc.aio

from orchestrator.gateway import proposal as protos
from orchestrator.gateway.client import CommitStatus, Timeouts, channel_options
from orchestrator.gateway.errors import (
    CommitStatusError,
    EndorseError,
    EvaluateError,
    submit_error_unless_ordered,
)
from orchestrator.gateway.identity import Identity

# The generated protobuf modules build their classes at import time (invisible to mypy): load them as Any.
common_pb2: Any = importlib.import_module("fabric_protos.common.common_pb2")
gateway_pb2: Any = importlib.import_module("fabric_protos.gateway.gateway_pb2")
gateway_pb2_grpc: Any = importlib.import_module("fabric_protos.gateway.gateway_pb2_grpc")
proposal_pb2: Any = importlib.import_module("fabric_protos.peer.proposal_pb2")

log = logging.getLogger(__name__)

__all__ = [
    "AsyncCommit",
    "AsyncContract",
    "AsyncGateway",
    "AsyncProposal",
    "AsyncTransaction",
    "SubmitStamps",
    "now",
]


def now() -> float:
    """The clock every phase is stamped with: ``time.monotonic()``."""
    return time.monotonic()


@dataclass(frozen=True)
class SubmitStamps:
    """Monotonic stamps of one submitted transaction: proposal built, endorsed, submitted, committed."""

    proposed: float
    endorsed: float
    submitted: float
    committed: float

    @property
    def endorse_s(self) -> float:
        return self.endorsed - self.proposed

    @property
    def submit_s(self) -> float:
        return self.submitted - self.endorsed

    @property
    def commit_s(self) -> float:
        return self.committed - self.submitted


class AsyncGateway:
    """One ``grpc.aio`` channel to one peer's Gateway service, signing as ``identity``.

    Create it inside the event loop that uses it (a ``grpc.aio`` channel belongs to one loop).
    """

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
        self._channel: Any = grpc.aio.secure_channel(
            endpoint, credentials, options=channel_options(server_name_override)
        )
        self._stub: Any = gateway_pb2_grpc.GatewayStub(self._channel)
        self.creator = identity.serialized()
        self._closed = False
        log.debug("aio gateway channel to %s as %s", endpoint, identity.msp_id)

    def contract(self, channel: str, chaincode: str) -> AsyncContract:
        return AsyncContract(self, channel=channel, chaincode=chaincode)

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Connect now (instead of on the first call), so connection set-up is not timed as a phase."""
        from asyncio import wait_for

        await wait_for(self._channel.channel_ready(), timeout)

    async def close(self) -> None:
        """Close the channel. Idempotent."""
        if not self._closed:
            self._closed = True
            await self._channel.close()

    async def __aenter__(self) -> AsyncGateway:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class AsyncContract:
    """A chaincode on a channel, seen through an :class:`AsyncGateway`."""

    def __init__(self, gateway: AsyncGateway, *, channel: str, chaincode: str) -> None:
        self.gateway = gateway
        self.channel = channel
        self.chaincode = chaincode

    def new_proposal(
        self,
        function: str,
        *args: str | bytes,
        transient: Mapping[str, bytes] | None = None,
        endorsing_orgs: Sequence[str] | None = None,
    ) -> AsyncProposal:
        """Build and sign (but do not send) a proposal; ``endorsing_orgs`` are MSP ids."""
        gw = self.gateway
        built = protos.build_proposal(
            creator=gw.creator,
            channel=self.channel,
            chaincode=self.chaincode,
            function=function,
            args=args,
            transient=transient,
        )
        return AsyncProposal(self, built, tuple(endorsing_orgs or ()))

    async def evaluate(self, function: str, *args: str | bytes) -> bytes:
        """Run a query on one peer; the chaincode's response payload."""
        return await self.new_proposal(function, *args).evaluate()

    async def submit(self, function: str, *args: str | bytes) -> tuple[CommitStatus, SubmitStamps]:
        """Endorse, submit and wait for the commit status (VALID or not: the caller decides)."""
        proposed = now()
        transaction = await self.new_proposal(function, *args).endorse()
        endorsed = now()
        commit = await transaction.submit()
        submitted = now()
        status = await commit.status()
        return status, SubmitStamps(proposed, endorsed, submitted, now())


class AsyncProposal:
    """A signed transaction proposal."""

    def __init__(self, contract: AsyncContract, built: protos.BuiltProposal, endorsing_orgs: tuple[str, ...]) -> None:
        self._contract = contract
        self._built = built
        self._endorsing_orgs = endorsing_orgs
        gw = contract.gateway
        self._signed = proposal_pb2.SignedProposal(
            proposal_bytes=built.proposal_bytes, signature=gw.identity.sign(built.proposal_bytes)
        )

    @property
    def tx_id(self) -> str:
        return self._built.tx_id

    async def evaluate(self) -> bytes:
        """Send to one peer without ordering; the chaincode response payload."""
        gw = self._contract.gateway
        request = gateway_pb2.EvaluateRequest(
            transaction_id=self.tx_id,
            channel_id=self._contract.channel,
            proposed_transaction=self._signed,
            target_organizations=self._endorsing_orgs,
        )
        try:
            response = await gw._stub.Evaluate(request, timeout=gw.timeouts.evaluate)
        except grpc.RpcError as exc:
            raise EvaluateError.from_rpc_error(exc, tx_id=self.tx_id) from exc
        return bytes(response.result.payload)

    async def endorse(self) -> AsyncTransaction:
        """Collect endorsements; the prepared transaction."""
        gw = self._contract.gateway
        request = gateway_pb2.EndorseRequest(
            transaction_id=self.tx_id,
            channel_id=self._contract.channel,
            proposed_transaction=self._signed,
            endorsing_organizations=self._endorsing_orgs,
        )
        try:
            response = await gw._stub.Endorse(request, timeout=gw.timeouts.endorse)
        except grpc.RpcError as exc:
            raise EndorseError.from_rpc_error(exc, tx_id=self.tx_id) from exc
        payload = bytes(response.prepared_transaction.payload)
        return AsyncTransaction(self._contract, tx_id=self.tx_id, payload=payload)


class AsyncTransaction:
    """An endorsed transaction, ready to sign and send to ordering."""

    def __init__(self, contract: AsyncContract, *, tx_id: str, payload: bytes) -> None:
        self._contract = contract
        self.tx_id = tx_id
        self.payload = payload

    @property
    def result(self) -> bytes:
        """The chaincode's response payload (parsed on demand: a load loop rarely needs it)."""
        return protos.parse_prepared_payload(self.payload).result

    async def submit(self) -> AsyncCommit:
        """Sign the envelope and hand it to the orderer through the gateway."""
        contract = self._contract
        gw = contract.gateway
        request = gateway_pb2.SubmitRequest(
            transaction_id=self.tx_id,
            channel_id=contract.channel,
            prepared_transaction=common_pb2.Envelope(payload=self.payload, signature=gw.identity.sign(self.payload)),
        )
        try:
            await gw._stub.Submit(request, timeout=gw.timeouts.submit)
        except grpc.RpcError as exc:
            submit_error_unless_ordered(exc, tx_id=self.tx_id)
        return AsyncCommit(contract, tx_id=self.tx_id)


class AsyncCommit:
    """A submitted transaction whose commit status can be awaited."""

    def __init__(self, contract: AsyncContract, *, tx_id: str) -> None:
        self._contract = contract
        self.tx_id = tx_id

    async def status(self) -> CommitStatus:
        """Wait until the transaction is in a block (or the deadline passes); its validation status."""
        contract = self._contract
        gw = contract.gateway
        body = protos.commit_status_request(tx_id=self.tx_id, channel=contract.channel, creator=gw.creator)
        request = gateway_pb2.SignedCommitStatusRequest(request=body, signature=gw.identity.sign(body))
        try:
            response = await gw._stub.CommitStatus(request, timeout=gw.timeouts.commit_status)
        except grpc.RpcError as exc:
            raise CommitStatusError.from_rpc_error(exc, tx_id=self.tx_id) from exc
        code = int(response.result)
        return CommitStatus(
            tx_id=self.tx_id,
            code=code,
            code_name=protos.validation_code_name(code),
            block_number=int(response.block_number),
        )
