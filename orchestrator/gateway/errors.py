"""Per-phase Gateway errors, mirroring fabric-gateway's ``errors.go``.

A failed gRPC call carries a ``google.rpc.Status`` in the ``grpc-status-details-bin`` trailer whose
details are Any-packed ``gateway.ErrorDetail`` messages: one per peer or orderer that failed.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import grpc
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from orchestrator.errors import LedgerError
from orchestrator.gateway.proposal import validation_code_name

# The generated protobuf modules build their classes at import time (invisible to mypy): load them as Any.
gateway_pb2: Any = importlib.import_module("fabric_protos.gateway.gateway_pb2")

log = logging.getLogger(__name__)
STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class ErrorDetail:
    """One endpoint's failure, from a ``gateway.ErrorDetail``."""

    address: str
    msp_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.address} ({self.msp_id}): {_one_line(self.message)}"


class GatewayError(LedgerError):
    """A Gateway gRPC call failed: status code, message and the endpoints' details."""

    phase: ClassVar[str] = "gateway call"

    def __init__(
        self,
        *,
        code: grpc.StatusCode | None,
        message: str,
        details: Sequence[ErrorDetail] = (),
        tx_id: str | None = None,
    ) -> None:
        self.code = code
        self.grpc_message = message
        self.details: tuple[ErrorDetail, ...] = tuple(details)
        self.tx_id = tx_id
        super().__init__(self._describe())

    @property
    def code_name(self) -> str:
        """The gRPC status name, e.g. ``ABORTED`` (``UNKNOWN`` if there was none)."""
        return str(self.code.name) if self.code is not None else "UNKNOWN"

    def _describe(self) -> str:
        subject = f"{self.phase} failed" + (f" for transaction {self.tx_id}" if self.tx_id else "")
        line = f"{subject}: {self.code_name}: {_one_line(self.grpc_message)}"
        if self.details:
            line += " [" + "; ".join(str(d) for d in self.details) + "]"
        return line

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError, *, tx_id: str | None = None) -> Self:
        """Convert a ``grpc.RpcError`` (a failed call) into this error class."""
        code = _call_attr(error, "code")
        message = _call_attr(error, "details")
        trailers = _call_attr(error, "trailing_metadata") or ()
        return cls(
            code=code,
            message=str(message) if message else str(error),
            details=error_details_from_metadata(trailers),
            tx_id=tx_id,
        )


class EvaluateError(GatewayError):
    """Evaluating (querying) a transaction failed."""

    phase = "evaluate"


class EndorseError(GatewayError):
    """Collecting endorsements failed."""

    phase = "endorse"


class SubmitError(GatewayError):
    """Sending the endorsed transaction to the orderer failed."""

    phase = "submit"

    # Codes with which a Submit call can break off after the gateway peer passed the transaction
    # on (the peer restarted, the connection dropped, the client gave up): it may still be ordered.
    # The orderer's and the gateway's own refusals come as ABORTED, INVALID_ARGUMENT, ...
    UNKNOWN_OUTCOME: ClassVar[frozenset[grpc.StatusCode]] = frozenset(
        {
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.CANCELLED,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.UNKNOWN,
            grpc.StatusCode.INTERNAL,
        }
    )

    @property
    def outcome_unknown(self) -> bool:
        """True when the transaction may have reached the orderer all the same (ask its commit
        status, or look for it on the ledger, before calling it lost or failed)."""
        return self.code is None or self.code in self.UNKNOWN_OUTCOME

    # What a SmartBFT orderer answers when the transaction is already in its request pool, or was
    # already ordered: it reached the orderer by another way (a BFT leader forwards requests to the
    # other nodes), so Fabric's gateway counts it as a failure although the transaction is ordered.
    ALREADY_WITH_ORDERER: ClassVar[tuple[str, ...]] = ("request already processed", "request already exists")

    @property
    def already_with_orderers(self) -> bool:
        """True when an orderer said it already has (or already ordered) this transaction: its
        commit status, not this error, says how it ended. A BFT gateway reports such a submit as
        failing to reach a quorum (hyperledger/fabric#4415)."""
        return self.code == grpc.StatusCode.UNAVAILABLE and any(
            marker in detail.message for detail in self.details for marker in self.ALREADY_WITH_ORDERER
        )


def submit_error_unless_ordered(error: grpc.RpcError, *, tx_id: str) -> SubmitError:
    """The failed Submit call as a ``SubmitError``, raised unless the orderers said they already have the
    transaction; then it is returned (and logged) for the caller to keep while it awaits the commit."""
    submit_error = SubmitError.from_rpc_error(error, tx_id=tx_id)
    if not submit_error.already_with_orderers:
        raise submit_error from error
    log.info("submit %s: orderers already have it, waiting for its commit status: %s", tx_id, submit_error)
    return submit_error


class CommitStatusError(GatewayError):
    """Asking for the transaction's commit status failed (the transaction may still commit)."""

    phase = "commit status"


class ChaincodeEventsError(GatewayError):
    """The chaincode event stream failed."""

    phase = "chaincode events"


class CommitError(LedgerError):
    """The transaction was committed to a block but marked invalid (e.g. ``MVCC_READ_CONFLICT``)."""

    def __init__(self, *, tx_id: str, code: int, block_number: int | None = None) -> None:
        self.tx_id = tx_id
        self.code = code
        self.code_name = validation_code_name(code)
        self.block_number = block_number
        where = f" in block {block_number}" if block_number is not None else ""
        super().__init__(f"transaction {tx_id} failed to commit{where} with status code {code} ({self.code_name})")


def error_details_from_metadata(metadata: Iterable[tuple[str, object]]) -> tuple[ErrorDetail, ...]:
    """The ``gateway.ErrorDetail`` list from a call's trailing metadata (empty if absent)."""
    for key, value in metadata:
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            return error_details_from_status(value)
    return ()


def error_details_from_status(status_bytes: bytes) -> tuple[ErrorDetail, ...]:
    """Decode a serialized ``google.rpc.Status`` and keep its ``gateway.ErrorDetail`` entries."""
    try:
        status: Any = _status_class().FromString(status_bytes)
    except DecodeError:
        return ()
    wanted = str(gateway_pb2.ErrorDetail.DESCRIPTOR.full_name)
    results: list[ErrorDetail] = []
    for packed in status.details:
        if str(packed.type_url).rsplit("/", 1)[-1] != wanted:
            continue
        try:
            detail = gateway_pb2.ErrorDetail.FromString(packed.value)
        except DecodeError:
            continue
        results.append(ErrorDetail(address=str(detail.address), msp_id=str(detail.msp_id), message=str(detail.message)))
    return tuple(results)


@functools.cache
def _status_class() -> type[Message]:
    """``google.rpc.Status``, built in a private descriptor pool (no googleapis-common-protos needed)."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(any_pb2.DESCRIPTOR.serialized_pb)
    field = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="google/rpc/status.proto",
        package="google.rpc",
        dependency=["google/protobuf/any.proto"],
        syntax="proto3",
    )
    status = file.message_type.add(name="Status")
    status.field.add(name="code", number=1, type=field.TYPE_INT32, label=field.LABEL_OPTIONAL)
    status.field.add(name="message", number=2, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    status.field.add(
        name="details",
        number=3,
        type=field.TYPE_MESSAGE,
        label=field.LABEL_REPEATED,
        type_name=".google.protobuf.Any",
    )
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status"))


def _call_attr(error: object, name: str) -> Any:
    """Call ``error.<name>()`` if a ``grpc.Call`` method of that name exists, else ``None``."""
    method = getattr(error, name, None)
    return method() if callable(method) else None


def _one_line(text: str) -> str:
    return " ".join(text.split())
