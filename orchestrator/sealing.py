"""Private values sealed with a random salt, so that their public hashes confirm no guess.

The ledger publishes ``SHA-256`` of a task's payload and result (``payloadHash``, ``resultHash``), and
Fabric's blocks carry the hash of every private write. A value anyone could guess (a file, a result
document) would be confirmed by either. So what goes to the ledger is ``salt ‖ value``, with 32 bytes
from the operating system's random source: the salt travels with the value into the two parties'
private collections and is never public. Only the two parties, who read the sealed bytes from their
own collections, can open them.
"""

from __future__ import annotations

import secrets

from orchestrator.errors import LedgerError

SALT_BYTES = 32
# The contract's limit on a transient payload or result (chaincode ``MaxPayloadBytes``), salt included.
MAX_SEALED_BYTES = 1 << 20
MAX_CONTENT_BYTES = MAX_SEALED_BYTES - SALT_BYTES


def seal(content: bytes, *, salt: bytes | None = None) -> bytes:
    """``salt ‖ content``, with a fresh random salt unless one is given (tests)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    if len(salt) != SALT_BYTES:
        raise ValueError(f"a salt is {SALT_BYTES} bytes, not {len(salt)}")
    return salt + content


def unseal(sealed: bytes) -> bytes:
    """The content of sealed bytes; LedgerError if they are too short to hold a salt."""
    if len(sealed) < SALT_BYTES:
        raise LedgerError(f"a sealed value has at least {SALT_BYTES} bytes of salt; this one has {len(sealed)} bytes")
    return sealed[SALT_BYTES:]
