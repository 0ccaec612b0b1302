"""A ``google.rpc.Status`` in wire format, encoded by hand: what a Gateway puts in an error's trailer
(``grpc-status-details-bin``), built independently of the code under test."""

from __future__ import annotations

from typing import Any

from google.protobuf import any_pb2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field, encoded by hand (independent of the code under test)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def status_bytes(code: int, message: str, details: list[Any]) -> bytes:
    """A google.rpc.Status {code=1, message=2, repeated Any details=3} in wire format."""
    encoded = _varint(1 << 3 | 0) + _varint(code) + _field(2, message.encode())
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)
        encoded += _field(3, packed.SerializeToString())
    return encoded
