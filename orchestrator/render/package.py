"""The chaincode-as-a-service package, built deterministically so its package ID is known
before anything is installed (the compose file passes it to the chaincode containers)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

from orchestrator.topology import CHAINCODE_SERVER_PORT, Topology


def _tar_gz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in files.items():  # entry names must not start with "./"
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def connection_template() -> dict[str, object]:
    """connection.json as packaged: the ccaas builder fills ``{{.peername}}`` per peer from
    ``CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG`` (the peer org's domain), so one package serves
    every org. The link stays inside the Docker network and is not TLS (see README)."""
    return {
        "address": "cc.{{.peername}}:" + str(CHAINCODE_SERVER_PORT),
        "dial_timeout": "10s",
        "tls_required": False,
    }


def ccaas_package(topology: Topology) -> bytes:
    label = topology.chaincode.label
    code = _tar_gz({"connection.json": json.dumps(connection_template(), indent=2).encode() + b"\n"})
    metadata = json.dumps({"type": "ccaas", "label": label}).encode()
    return _tar_gz({"metadata.json": metadata, "code.tar.gz": code})


def package_id(label: str, package: bytes) -> str:
    """Fabric's package ID: the label and the SHA-256 of the package file."""
    return f"{label}:{hashlib.sha256(package).hexdigest()}"
