"""Blocks from a peer's Deliver service, and the hashes that chain them.

The peer serves its committed blocks (``protos.Deliver/Deliver``) to a client that sends a
signed ``SeekInfo`` envelope; this module builds that envelope and decodes what comes back into
plain records, so the audit never touches protobuf classes.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import timestamp_pb2

from orchestrator.gateway.client import Gateway
from orchestrator.gateway.errors import GatewayError
from orchestrator.gateway.proposal import new_nonce, signature_header, transaction_id

common_pb2: Any = importlib.import_module("fabric_protos.common.common_pb2")
ab_pb2: Any = importlib.import_module("fabric_protos.orderer.ab_pb2")
events_pb2_grpc: Any = importlib.import_module("fabric_protos.peer.events_pb2_grpc")
transaction_pb2: Any = importlib.import_module("fabric_protos.peer.transaction_pb2")

TRANSACTIONS_FILTER = 2  # common.BlockMetadataIndex.TRANSACTIONS_FILTER


@dataclass(frozen=True)
class TxRecord:
    tx_id: str
    header_type: int  # common.HeaderType: 1 CONFIG, 3 ENDORSER_TRANSACTION
    validation_code: int  # peer.TxValidationCode, 0 = VALID


@dataclass(frozen=True)
class BlockRecord:
    number: int
    previous_hash: bytes
    data_hash: bytes
    header_hash: bytes  # what the next block's previous_hash must be
    computed_data_hash: bytes  # SHA-256 over the block's data, to compare with data_hash
    transactions: tuple[TxRecord, ...]
    # The serialized block, as every member's peer (and the orderers) holds it.
    raw: bytes = field(default=b"", repr=False, compare=False)


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(content)) + content


def block_header_hash(number: int, previous_hash: bytes, data_hash: bytes) -> bytes:
    """Fabric's block header hash: SHA-256 of the ASN.1 DER SEQUENCE {number, previous_hash, data_hash}."""
    raw = number.to_bytes((number.bit_length() + 8) // 8 or 1, "big", signed=True) if number else b"\x00"
    body = _der(0x02, raw) + _der(0x04, previous_hash) + _der(0x04, data_hash)
    return hashlib.sha256(_der(0x30, body)).digest()


def decode_block(data: bytes) -> BlockRecord:
    """A serialized ``common.Block`` as a :class:`BlockRecord`."""
    block = common_pb2.Block.FromString(data)
    header = block.header
    flags = bytes(block.metadata.metadata[TRANSACTIONS_FILTER]) if len(block.metadata.metadata) > 2 else b""
    txs = []
    for i, env_bytes in enumerate(block.data.data):
        envelope = common_pb2.Envelope.FromString(env_bytes)
        payload = common_pb2.Payload.FromString(envelope.payload)
        chdr = common_pb2.ChannelHeader.FromString(payload.header.channel_header)
        code = flags[i] if i < len(flags) else 0
        txs.append(TxRecord(tx_id=chdr.tx_id, header_type=chdr.type, validation_code=code))
    return BlockRecord(
        number=header.number,
        previous_hash=bytes(header.previous_hash),
        data_hash=bytes(header.data_hash),
        header_hash=block_header_hash(header.number, bytes(header.previous_hash), bytes(header.data_hash)),
        computed_data_hash=hashlib.sha256(b"".join(bytes(d) for d in block.data.data)).digest(),
        transactions=tuple(txs),
        raw=data,
    )


def _seek_envelope(gateway: Gateway, channel: str, start: int, stop: int | None) -> Any:
    nonce = new_nonce()
    creator = gateway.identity.serialized()
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    chdr = common_pb2.ChannelHeader(
        type=common_pb2.HeaderType.DELIVER_SEEK_INFO,
        channel_id=channel,
        tx_id=transaction_id(nonce, creator),
        timestamp=stamp,
    )
    stop_pos = (
        ab_pb2.SeekPosition(newest=ab_pb2.SeekNewest())
        if stop is None
        else ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=stop))
    )
    seek = ab_pb2.SeekInfo(
        start=ab_pb2.SeekPosition(specified=ab_pb2.SeekSpecified(number=start)),
        stop=stop_pos,
        behavior=ab_pb2.SeekInfo.SeekBehavior.BLOCK_UNTIL_READY,
    )
    payload = common_pb2.Payload(
        header=common_pb2.Header(
            channel_header=chdr.SerializeToString(),
            signature_header=signature_header(creator=creator, nonce=nonce),
        ),
        data=seek.SerializeToString(),
    )
    payload_bytes = payload.SerializeToString()
    return common_pb2.Envelope(payload=payload_bytes, signature=gateway.identity.sign(payload_bytes))


def blocks(gateway: Gateway, channel: str, *, start: int = 0, stop: int | None = None) -> Iterator[BlockRecord]:
    """Every block from ``start`` to ``stop`` (default: the newest when the call starts)."""
    stub = events_pb2_grpc.DeliverStub(gateway._channel)
    stream = stub.Deliver(iter([_seek_envelope(gateway, channel, start, stop)]), timeout=120)
    try:
        for response in stream:
            kind = response.WhichOneof("Type")
            if kind == "block":
                yield decode_block(response.block.SerializeToString())
            elif kind == "status":
                if response.status != common_pb2.Status.SUCCESS:
                    raise GatewayError(code=None, message=f"deliver ended with status {response.status}")
                return
    except grpc.RpcError as exc:
        raise GatewayError.from_rpc_error(exc) from exc
    finally:
        stream.cancel()
