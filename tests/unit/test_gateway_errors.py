"""Gateway error parsing: google.rpc.Status trailers, per-phase messages, and event-stream endings."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2

from orchestrator.errors import LedgerError
from orchestrator.gateway import (
    ChaincodeEvent,
    ChaincodeEventsError,
    ChaincodeEventStream,
    CommitStatusError,
    EndorseError,
    ErrorDetail,
    EvaluateError,
    GatewayError,
    SubmitError,
)
from orchestrator.gateway.errors import (
    STATUS_DETAILS_KEY,
    error_details_from_metadata,
    error_details_from_status,
)
from tests.unit.rpc_status import status_bytes as _status_bytes

gateway_pb2: Any = importlib.import_module("fabric_protos.gateway.gateway_pb2")
chaincode_event_pb2: Any = importlib.import_module("fabric_protos.peer.chaincode_event_pb2")


PEER_FAILURES = [
    gateway_pb2.ErrorDetail(
        address="peer0.edge1.mec:7051",
        msp_id="Edge1MSP",
        message="chaincode response 500, task t1 already exists",
    ),
    gateway_pb2.ErrorDetail(address="peer0.edge2.mec:9051", msp_id="Edge2MSP", message="timeout\nwaiting"),
]


class FakeRpcError(grpc.RpcError):  # type: ignore[misc]
    """What a failed unary call raises: a ``grpc.RpcError`` that is also a ``grpc.Call``."""

    def __init__(self, code: Any, details: str, trailers: tuple[tuple[str, Any], ...] = ()) -> None:
        super().__init__(details)
        self._code = code
        self._details = details
        self._trailers = trailers

    def code(self) -> Any:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, Any], ...]:
        return self._trailers


def test_error_details_from_real_status() -> None:
    foreign = timestamp_pb2.Timestamp(seconds=5)  # a non-ErrorDetail Any is skipped
    status = _status_bytes(10, "failed to endorse transaction", [PEER_FAILURES[0], foreign, PEER_FAILURES[1]])
    assert error_details_from_status(status) == (
        ErrorDetail("peer0.edge1.mec:7051", "Edge1MSP", "chaincode response 500, task t1 already exists"),
        ErrorDetail("peer0.edge2.mec:9051", "Edge2MSP", "timeout\nwaiting"),
    )


def test_error_details_tolerate_garbage_and_absence() -> None:
    assert error_details_from_status(b"\xff\xff\xff") == ()
    assert error_details_from_status(_status_bytes(2, "no details", [])) == ()
    assert error_details_from_metadata([("content-type", "application/grpc")]) == ()


def test_error_details_found_in_trailing_metadata() -> None:
    trailers = [("x-other", "v"), (STATUS_DETAILS_KEY, _status_bytes(10, "m", PEER_FAILURES[:1]))]
    assert [d.msp_id for d in error_details_from_metadata(trailers)] == ["Edge1MSP"]


def test_endorse_error_from_rpc_error_is_one_clear_line() -> None:
    trailers = ((STATUS_DETAILS_KEY, _status_bytes(10, "x", PEER_FAILURES)),)
    rpc_error = FakeRpcError(grpc.StatusCode.ABORTED, "failed to endorse transaction", trailers)
    error = EndorseError.from_rpc_error(rpc_error, tx_id="abc123")

    assert isinstance(error, GatewayError)
    assert isinstance(error, LedgerError)
    assert error.exit_code == 5
    assert error.tx_id == "abc123"
    assert error.code == grpc.StatusCode.ABORTED
    assert error.code_name == "ABORTED"
    assert error.grpc_message == "failed to endorse transaction"
    assert [d.address for d in error.details] == ["peer0.edge1.mec:7051", "peer0.edge2.mec:9051"]
    assert str(error) == (
        "endorse failed for transaction abc123: ABORTED: failed to endorse transaction "
        "[peer0.edge1.mec:7051 (Edge1MSP): chaincode response 500, task t1 already exists; "
        "peer0.edge2.mec:9051 (Edge2MSP): timeout waiting]"
    )
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("cls", "phase"),
    [
        (EvaluateError, "evaluate"),
        (EndorseError, "endorse"),
        (SubmitError, "submit"),
        (CommitStatusError, "commit status"),
    ],
)
def test_each_phase_names_itself(cls: type[GatewayError], phase: str) -> None:
    error = cls.from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused"), tx_id="t9")
    assert isinstance(error, cls)
    assert str(error) == f"{phase} failed for transaction t9: UNAVAILABLE: connection refused"
    assert error.details == ()


@pytest.mark.parametrize(
    ("code", "unknown"),
    [
        (grpc.StatusCode.ABORTED, False),  # the orderer or the gateway refused it: never ordered
        (grpc.StatusCode.INVALID_ARGUMENT, False),
        (grpc.StatusCode.PERMISSION_DENIED, False),
        (grpc.StatusCode.FAILED_PRECONDITION, False),
        (grpc.StatusCode.UNAVAILABLE, True),  # "Stream removed": the peer restarted mid-call
        (grpc.StatusCode.CANCELLED, True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, True),
        (grpc.StatusCode.UNKNOWN, True),
        (grpc.StatusCode.INTERNAL, True),
    ],
)
def test_a_submit_that_broke_off_may_still_be_ordered(code: grpc.StatusCode, unknown: bool) -> None:
    error = SubmitError.from_rpc_error(FakeRpcError(code, "Stream removed"), tx_id="t9")
    assert error.outcome_unknown is unknown
    assert SubmitError.from_rpc_error(grpc.RpcError("opaque")).outcome_unknown


def test_error_without_call_information() -> None:
    error = GatewayError.from_rpc_error(grpc.RpcError("opaque"))
    assert error.code is None
    assert str(error) == "gateway call failed: UNKNOWN: opaque"


# --- chaincode event stream -----------------------------------------------------------------------


class FakeStreamCall:
    """A server-streaming call: yields responses, then ends the way gRPC does on cancel or failure."""

    def __init__(self, responses: list[Any], *, then: Any = None) -> None:
        self._responses = responses
        self._then = then
        self.cancelled = threading.Event()

    def __iter__(self) -> Iterator[Any]:
        yield from self._responses
        if self._then is not None:
            raise FakeRpcError(self._then, "stream ended")
        self.cancelled.wait(timeout=5)
        raise FakeRpcError(grpc.StatusCode.CANCELLED, "Locally cancelled by application!")

    def cancel(self) -> bool:
        self.cancelled.set()
        return True


def _response(block: int, *tx_ids: str) -> Any:
    events = [
        chaincode_event_pb2.ChaincodeEvent(
            chaincode_id="tasks", tx_id=tx, event_name="TaskCreated", payload=tx.encode()
        )
        for tx in tx_ids
    ]
    return gateway_pb2.ChaincodeEventsResponse(events=events, block_number=block)


def test_event_stream_flattens_responses_and_ends_quietly_on_close() -> None:
    call = FakeStreamCall([_response(4, "a", "b"), _response(5, "c")])
    received: list[ChaincodeEvent] = []
    with ChaincodeEventStream(call) as stream:
        for event in stream:
            received.append(event)
            if len(received) == 3:
                threading.Timer(0.05, stream.close).start()
    assert call.cancelled.is_set()
    assert received == [
        ChaincodeEvent(block_number=4, tx_id="a", chaincode="tasks", event_name="TaskCreated", payload=b"a"),
        ChaincodeEvent(block_number=4, tx_id="b", chaincode="tasks", event_name="TaskCreated", payload=b"b"),
        ChaincodeEvent(block_number=5, tx_id="c", chaincode="tasks", event_name="TaskCreated", payload=b"c"),
    ]


def test_event_stream_failure_raises_chaincode_events_error() -> None:
    stream = ChaincodeEventStream(FakeStreamCall([_response(1, "a")], then=grpc.StatusCode.PERMISSION_DENIED))
    iterator = iter(stream)
    assert next(iterator).tx_id == "a"
    with pytest.raises(ChaincodeEventsError, match="chaincode events failed: PERMISSION_DENIED"):
        next(iterator)


# --- a BFT submit whose orderers already have the transaction -------------------------------------

ORDERERS_HAVE_IT = [
    gateway_pb2.ErrorDetail(
        address="orderer4.orderer.mec:7050",
        msp_id="OrdererMSP",
        message="received unsuccessful response from orderer: status=SERVICE_UNAVAILABLE, "
        "info=failed to submit request: request already processed",
    ),
    gateway_pb2.ErrorDetail(
        address="orderer3.orderer.mec:7050",
        msp_id="OrdererMSP",
        message="received unsuccessful response from orderer: status=SERVICE_UNAVAILABLE, "
        "info=failed to submit request: request already exists",
    ),
]
ORDERER_DOWN = gateway_pb2.ErrorDetail(
    address="orderer2.orderer.mec:7050", msp_id="OrdererMSP", message="connection refused"
)
QUORUM = "insufficient number of orderers could successfully process transaction to satisfy quorum requirement"


def _submit_error(code: Any, details: list[Any]) -> SubmitError:
    trailers = ((STATUS_DETAILS_KEY, _status_bytes(14, QUORUM, details)),)
    return SubmitError.from_rpc_error(FakeRpcError(code, QUORUM, trailers), tx_id="t9")


@pytest.mark.parametrize(
    ("code", "details", "already"),
    [
        (grpc.StatusCode.UNAVAILABLE, ORDERERS_HAVE_IT, True),
        (grpc.StatusCode.UNAVAILABLE, [*ORDERERS_HAVE_IT[1:], ORDERER_DOWN], True),
        (grpc.StatusCode.UNAVAILABLE, [ORDERER_DOWN], False),  # nobody said they have it
        (grpc.StatusCode.UNAVAILABLE, [], False),
        (grpc.StatusCode.ABORTED, ORDERERS_HAVE_IT, False),  # a refusal is a refusal
    ],
)
def test_orderers_that_already_have_the_transaction_are_recognised(
    code: grpc.StatusCode, details: list[Any], already: bool
) -> None:
    assert _submit_error(code, details).already_with_orderers is already


class _Stub:
    def __init__(self, submit_error: Exception) -> None:
        self.submit_error = submit_error
        self.commit_asked: list[bytes] = []

    def Submit(self, request: Any, timeout: float) -> Any:
        raise self.submit_error

    def CommitStatus(self, request: Any, timeout: float) -> Any:
        self.commit_asked.append(request.request)
        return gateway_pb2.CommitStatusResponse(result=0, block_number=7)


def _network(stub: _Stub) -> Any:
    from types import SimpleNamespace

    identity = SimpleNamespace(sign=lambda data: b"sig")
    gateway = SimpleNamespace(
        identity=identity, _stub=stub, _creator=b"creator", timeouts=SimpleNamespace(submit=1.0, commit_status=1.0)
    )
    return SimpleNamespace(gateway=gateway, channel="mec")


def test_a_submit_the_orderers_already_have_waits_for_its_commit_status() -> None:
    from orchestrator.gateway.client import Transaction

    trailers = ((STATUS_DETAILS_KEY, _status_bytes(14, QUORUM, ORDERERS_HAVE_IT)),)
    stub = _Stub(FakeRpcError(grpc.StatusCode.UNAVAILABLE, QUORUM, trailers))
    transaction = Transaction(_network(stub), tx_id="t9", payload=b"p", result=b"")
    commit = transaction.submit()
    assert commit.already_with_orderers is not None and "request already processed" in str(commit.already_with_orderers)
    status = commit.status()
    assert status.valid and status.block_number == 7 and len(stub.commit_asked) == 1


def test_a_submit_no_orderer_took_still_fails() -> None:
    from orchestrator.gateway.client import Transaction

    trailers = ((STATUS_DETAILS_KEY, _status_bytes(14, QUORUM, [ORDERER_DOWN])),)
    stub = _Stub(FakeRpcError(grpc.StatusCode.UNAVAILABLE, QUORUM, trailers))
    transaction = Transaction(_network(stub), tx_id="t9", payload=b"p", result=b"")
    with pytest.raises(SubmitError, match="connection refused"):
        transaction.submit()
    assert stub.commit_asked == []
