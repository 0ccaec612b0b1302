"""Pure builders and parsers for the protobuf messages the Fabric Gateway protocol exchanges.

Every function takes and returns plain Python values (``bytes``, ``str``, ``int``) so the
untyped protobuf classes stay inside this module.
"""

from __future__ import annotations

import hashlib
import importlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2
from google.protobuf.message import DecodeError

from orchestrator.errors import ConfigError, LedgerError

# The generated protobuf modules build their classes at import time (invisible to mypy): load them as Any.
common_pb2: Any = importlib.import_module("fabric_protos.common.common_pb2")
gateway_pb2: Any = importlib.import_module("fabric_protos.gateway.gateway_pb2")
ab_pb2: Any = importlib.import_module("fabric_protos.orderer.ab_pb2")
chaincode_pb2: Any = importlib.import_module("fabric_protos.peer.chaincode_pb2")
proposal_pb2: Any = importlib.import_module("fabric_protos.peer.proposal_pb2")
proposal_response_pb2: Any = importlib.import_module("fabric_protos.peer.proposal_response_pb2")
transaction_pb2: Any = importlib.import_module("fabric_protos.peer.transaction_pb2")

NONCE_SIZE = 24


@dataclass(frozen=True)
class BuiltProposal:
    """An unsigned proposal: its transaction id, nonce and serialized ``peer.Proposal``."""

    tx_id: str
    nonce: bytes
    proposal_bytes: bytes


def new_nonce() -> bytes:
    """A fresh random nonce, 24 bytes like the fabric-gateway clients."""
    return secrets.token_bytes(NONCE_SIZE)


def transaction_id(nonce: bytes, creator: bytes) -> str:
    """Fabric's transaction id: hex SHA-256 of ``nonce + creator``."""
    return hashlib.sha256(nonce + creator).hexdigest()


def channel_header(*, channel: str, tx_id: str, chaincode: str, timestamp: datetime | None = None) -> bytes:
    """A serialized ENDORSER_TRANSACTION ``common.ChannelHeader`` naming the chaincode."""
    extension = proposal_pb2.ChaincodeHeaderExtension(chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode))
    stamp = timestamp_pb2.Timestamp()
    if timestamp is None:
        stamp.GetCurrentTime()
    else:
        stamp.FromDatetime(timestamp)
    header = common_pb2.ChannelHeader(
        type=common_pb2.HeaderType.ENDORSER_TRANSACTION,
        timestamp=stamp,
        channel_id=channel,
        tx_id=tx_id,
        epoch=0,
        extension=extension.SerializeToString(),
    )
    return bytes(header.SerializeToString())


def signature_header(*, creator: bytes, nonce: bytes) -> bytes:
    """A serialized ``common.SignatureHeader``."""
    return bytes(common_pb2.SignatureHeader(creator=creator, nonce=nonce).SerializeToString())


def chaincode_args(function: str, args: Sequence[str | bytes]) -> list[bytes]:
    """``[function, *args]`` as bytes (strings UTF-8 encoded). A string that is not valid Unicode
    (a lone surrogate, as from command-line bytes that are not UTF-8) is refused: ConfigError."""
    return [
        _utf8(function, function, 0),
        *(_utf8(a, function, i) if isinstance(a, str) else bytes(a) for i, a in enumerate(args, 1)),
    ]


def _utf8(text: str, function: str, position: int) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        what = "the function name" if position == 0 else f"argument {position} of {function!r}"
        raise ConfigError(f"{what} is not valid UTF-8 text: {text!r}") from None


def chaincode_proposal_payload(
    *,
    chaincode: str,
    function: str,
    args: Sequence[str | bytes] = (),
    transient: Mapping[str, bytes] | None = None,
) -> bytes:
    """A serialized ``peer.ChaincodeProposalPayload`` holding the invocation spec and transient map."""
    spec = chaincode_pb2.ChaincodeInvocationSpec(
        chaincode_spec=chaincode_pb2.ChaincodeSpec(
            chaincode_id=chaincode_pb2.ChaincodeID(name=chaincode),
            input=chaincode_pb2.ChaincodeInput(args=chaincode_args(function, args)),
        )
    )
    payload = proposal_pb2.ChaincodeProposalPayload(input=spec.SerializeToString(), TransientMap=dict(transient or {}))
    return bytes(payload.SerializeToString())


def build_proposal(
    *,
    creator: bytes,
    channel: str,
    chaincode: str,
    function: str,
    args: Sequence[str | bytes] = (),
    transient: Mapping[str, bytes] | None = None,
    nonce: bytes | None = None,
    timestamp: datetime | None = None,
) -> BuiltProposal:
    """Build the unsigned ``peer.Proposal`` for one chaincode invocation."""
    nonce = new_nonce() if nonce is None else nonce
    tx_id = transaction_id(nonce, creator)
    header = common_pb2.Header(
        channel_header=channel_header(channel=channel, tx_id=tx_id, chaincode=chaincode, timestamp=timestamp),
        signature_header=signature_header(creator=creator, nonce=nonce),
    )
    proposal = proposal_pb2.Proposal(
        header=header.SerializeToString(),
        payload=chaincode_proposal_payload(chaincode=chaincode, function=function, args=args, transient=transient),
    )
    return BuiltProposal(tx_id=tx_id, nonce=nonce, proposal_bytes=bytes(proposal.SerializeToString()))


def signed_proposal(proposal_bytes: bytes, signature: bytes) -> bytes:
    """A serialized ``peer.SignedProposal``."""
    message = proposal_pb2.SignedProposal(proposal_bytes=proposal_bytes, signature=signature)
    return bytes(message.SerializeToString())


def commit_status_request(*, tx_id: str, channel: str, creator: bytes) -> bytes:
    """A serialized ``gateway.CommitStatusRequest`` (the part that gets signed)."""
    request = gateway_pb2.CommitStatusRequest(transaction_id=tx_id, channel_id=channel, identity=creator)
    return bytes(request.SerializeToString())


def chaincode_events_request(
    *,
    channel: str,
    chaincode: str,
    creator: bytes,
    start_block: int | None = None,
    after_tx_id: str | None = None,
) -> bytes:
    """A serialized ``gateway.ChaincodeEventsRequest``; starts at the next commit unless a block is given."""
    if start_block is None:
        position = ab_pb2.SeekPosition(next_commit=ab_pb2.SeekNextCommit())
    else:
        position = ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start_block))
    request = gateway_pb2.ChaincodeEventsRequest(
        channel_id=channel,
        chaincode_id=chaincode,
        identity=creator,
        start_position=position,
        after_transaction_id=after_tx_id or "",
    )
    return bytes(request.SerializeToString())


@dataclass(frozen=True)
class PreparedTransactionInfo:
    """What a client needs from an endorsed envelope's payload."""

    channel: str
    tx_id: str
    result: bytes


def parse_prepared_payload(payload: bytes) -> PreparedTransactionInfo:
    """Read channel, tx id and the chaincode result from a prepared envelope's ``payload`` bytes.

    Path: Payload → Transaction → actions[i].payload (ChaincodeActionPayload) →
    action.proposal_response_payload → ProposalResponsePayload.extension → ChaincodeAction.response.payload.
    """
    try:
        envelope_payload = common_pb2.Payload.FromString(payload)
        header = common_pb2.ChannelHeader.FromString(envelope_payload.header.channel_header)
        transaction = transaction_pb2.Transaction.FromString(envelope_payload.data)
    except DecodeError as exc:
        raise LedgerError(f"endorsed transaction envelope is malformed: {exc}") from exc
    problems: list[str] = []
    for action in transaction.actions:
        try:
            result = _result_from_action(action.payload)
        except DecodeError as exc:
            problems.append(str(exc))
            continue
        return PreparedTransactionInfo(channel=str(header.channel_id), tx_id=str(header.tx_id), result=result)
    detail = "; ".join(problems) if problems else "it has no actions"
    raise LedgerError(f"endorsed transaction {header.tx_id} holds no proposal response: {detail}")


def _result_from_action(action_payload: bytes) -> bytes:
    chaincode_action_payload = transaction_pb2.ChaincodeActionPayload.FromString(action_payload)
    response_payload = proposal_response_pb2.ProposalResponsePayload.FromString(
        chaincode_action_payload.action.proposal_response_payload
    )
    chaincode_action = proposal_pb2.ChaincodeAction.FromString(response_payload.extension)
    return bytes(chaincode_action.response.payload)


def validation_code_name(code: int) -> str:
    """The ``peer.TxValidationCode`` name for ``code``, e.g. 11 → ``MVCC_READ_CONFLICT``."""
    try:
        return str(transaction_pb2.TxValidationCode.Name(code))
    except ValueError:
        return f"UNKNOWN_CODE_{code}"


VALID_CODE = int(transaction_pb2.TxValidationCode.Value("VALID"))
