"""A Fabric signing identity: an MSP id, an X.509 certificate and its ECDSA private key."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from orchestrator.errors import ConfigError

# The generated protobuf modules build their classes at import time (invisible to mypy): load them as Any.
identities_pb2: Any = importlib.import_module("fabric_protos.msp.identities_pb2")

# Group orders of the curves Fabric's default BCCSP accepts; used for low-S normalization.
_CURVE_ORDERS: dict[str, int] = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}


@dataclass(frozen=True)
class Identity:
    """Who signs: ``msp_id``, the PEM certificate and the matching EC private key."""

    msp_id: str
    cert: bytes
    private_key: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.private_key.curve.name not in _CURVE_ORDERS:
            raise ConfigError(
                f"identity {self.msp_id}: unsupported key curve {self.private_key.curve.name} "
                "(Fabric needs ECDSA P-256 or P-384)"
            )

    @classmethod
    def from_msp_dir(cls, msp_id: str, msp_dir: Path) -> Identity:
        """Load a cryptogen-style MSP folder (``signcerts/*.pem``, ``keystore/priv_sk``)."""
        cert_path = _single_file(msp_dir / "signcerts", "*.pem", what="signing certificate")
        key_path = _key_file(msp_dir / "keystore")
        cert_pem = cert_path.read_bytes()
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except ValueError as exc:
            raise ConfigError(f"cannot parse MSP material in {msp_dir}: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{key_path} is not an EC private key; Fabric identities need ECDSA")
        cert_key = cert.public_key()
        if not (
            isinstance(cert_key, ec.EllipticCurvePublicKey)
            and cert_key.public_numbers() == key.public_key().public_numbers()
        ):
            raise ConfigError(f"{key_path} does not match the certificate {cert_path}")
        return cls(msp_id=msp_id, cert=cert_pem, private_key=key)

    def serialized(self) -> bytes:
        """The ``msp.SerializedIdentity`` bytes Fabric calls the *creator*."""
        message = identities_pb2.SerializedIdentity(mspid=self.msp_id, id_bytes=self.cert)
        return bytes(message.SerializeToString())

    def sign(self, message: bytes) -> bytes:
        """DER ECDSA signature of SHA-256(``message``), with S normalized low as Fabric requires."""
        der = self.private_key.sign(message, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        order = _CURVE_ORDERS[self.private_key.curve.name]
        if s > order // 2:
            s = order - s
        return encode_dss_signature(r, s)


def _single_file(folder: Path, pattern: str, *, what: str) -> Path:
    files = sorted(p for p in folder.glob(pattern) if p.is_file())
    if len(files) != 1:
        found = ", ".join(p.name for p in files) or "nothing"
        raise ConfigError(f"expected exactly one {what} ({pattern}) in {folder}, found {found}")
    return files[0]


def _key_file(keystore: Path) -> Path:
    """cryptogen writes ``priv_sk``; Fabric CA writes ``<ski>_sk``; accept either, or a lone file."""
    cryptogen_key = keystore / "priv_sk"
    if cryptogen_key.is_file():
        return cryptogen_key
    candidates = sorted(p for p in keystore.glob("*_sk") if p.is_file())
    if len(candidates) == 1:
        return candidates[0]
    return _single_file(keystore, "*", what="private key")
