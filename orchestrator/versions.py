"""Fabric versions and image names: read from ``network/versions.env``, the one place they are pinned."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache

from orchestrator.errors import ConfigError
from orchestrator.topology import REPO_ROOT

VERSIONS_FILE = REPO_ROOT / "network" / "versions.env"


@cache
def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        match = re.match(r"^([A-Z0-9_]+)=(\S+)", line)
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def toxiproxy_version() -> str:
    return _pins()["TOXIPROXY_VERSION"]


def toxiproxy_image() -> str:
    """The link proxy image (``MECFAB_TOXIPROXY_IMAGE`` overrides it)."""
    return os.environ.get("MECFAB_TOXIPROXY_IMAGE") or f"mecfab/toxiproxy:{toxiproxy_version()}"


def default_fabric_version() -> str:
    return _pins()["FABRIC_VERSION_DEFAULT"]


def supported_fabric_versions() -> list[str]:
    return sorted(k.removeprefix("FABRIC_MODULE_").replace("_", ".") for k in _pins() if k.startswith("FABRIC_MODULE_"))


def fabric_version(requested: str | None = None) -> str:
    """The Fabric version to use: the argument, else ``$FABRIC_VERSION``, else the default pin."""
    version = requested or os.environ.get("FABRIC_VERSION") or default_fabric_version()
    if version not in supported_fabric_versions():
        raise ConfigError(
            f"Fabric {version} is not pinned in network/versions.env; "
            f"choose one of {', '.join(supported_fabric_versions())}"
        )
    return version


@dataclass(frozen=True)
class Images:
    """Image names; each can be overridden (e.g. with the official hyperledger/fabric-* images)."""

    peer: str
    orderer: str
    chaincode: str

    @classmethod
    def for_version(cls, version: str) -> Images:
        env = os.environ
        return cls(
            peer=env.get("MECFAB_PEER_IMAGE") or f"mecfab/fabric-peer:{version}",
            orderer=env.get("MECFAB_ORDERER_IMAGE") or f"mecfab/fabric-orderer:{version}",
            chaincode=env.get("MECFAB_CHAINCODE_IMAGE") or "mecfab/chaincode-mectask:latest",
        )


# The compose file names images through these variables, with the same defaults as Images.
COMPOSE_IMAGE_VARS = {
    "peer": "${MECFAB_PEER_IMAGE:-mecfab/fabric-peer:${FABRIC_VERSION:-%s}}",
    "orderer": "${MECFAB_ORDERER_IMAGE:-mecfab/fabric-orderer:${FABRIC_VERSION:-%s}}",
    "chaincode": "${MECFAB_CHAINCODE_IMAGE:-mecfab/chaincode-mectask:latest}",
    "toxiproxy": "${MECFAB_TOXIPROXY_IMAGE:-mecfab/toxiproxy:%s}",
}
