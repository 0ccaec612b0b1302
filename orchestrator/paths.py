"""Where things live. One function per piece of knowledge (after Fabric's nwo helpers):
the crypto material cryptogen writes, the artifacts we render, the Fabric binaries we build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestrator.topology import Node, Org, OrgKind


def cache_dir() -> Path:
    """Build cache shared by every clone (Fabric binaries, compose): ``$MECFAB_CACHE``."""
    explicit = os.environ.get("MECFAB_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mecfab"


def fabric_home(version: str) -> Path:
    """Where ``network/scripts/build-fabric.sh`` put Fabric ``version`` (bin/ and config/)."""
    return cache_dir() / "fabric" / version


@dataclass(frozen=True)
class StateDir:
    """A network's generated files: crypto material, channel block, packages."""

    root: Path

    @property
    def topology(self) -> Path:
        """The resolved topology the network was rendered from (overrides applied)."""
        return self.root / "topology.yaml"

    @property
    def crypto_config(self) -> Path:
        return self.root / "crypto-config.yaml"

    @property
    def configtx_dir(self) -> Path:
        return self.root

    @property
    def configtx(self) -> Path:
        return self.root / "configtx.yaml"

    @property
    def organizations(self) -> Path:
        return self.root / "organizations"

    def channel_block(self, channel: str) -> Path:
        return self.root / "channel-artifacts" / f"{channel}.block"

    def chaincode_package(self, label: str) -> Path:
        return self.root / "packages" / f"{label}.tar.gz"

    def agent_secret(self, org: Org) -> Path:
        """The secret an edge's agent asks of every request that acts for the org (mode 0400)."""
        return self.root / "agents" / f"{org.name}.secret"

    def link_core_yaml(self, org: Org) -> Path:
        """An edge peer's core.yaml when its orderer traffic is routed through its link proxy."""
        return self.root / "links" / org.domain / "core.yaml"

    # ---- cryptogen's layout ----------------------------------------------------------------
    def org_dir(self, org: Org) -> Path:
        kind = "ordererOrganizations" if org.kind is OrgKind.ORDERER else "peerOrganizations"
        return self.organizations / kind / org.domain

    def org_msp(self, org: Org) -> Path:
        return self.org_dir(org) / "msp"

    def org_tls_ca(self, org: Org) -> Path:
        return self.org_dir(org) / "tlsca" / f"tlsca.{org.domain}-cert.pem"

    def node_dir(self, node: Node) -> Path:
        sub = "orderers" if node.is_orderer else "peers"
        return self.org_dir(node.org) / sub / node.host

    def node_msp(self, node: Node) -> Path:
        return self.node_dir(node) / "msp"

    def node_signcert(self, node: Node) -> Path:
        return self.node_msp(node) / "signcerts" / f"{node.host}-cert.pem"

    def node_tls(self, node: Node) -> Path:
        return self.node_dir(node) / "tls"

    def user_dir(self, org: Org, user: str = "Admin") -> Path:
        return self.org_dir(org) / "users" / f"{user}@{org.domain}"

    def user_msp(self, org: Org, user: str = "Admin") -> Path:
        return self.user_dir(org, user) / "msp"

    def user_tls(self, org: Org, user: str = "Admin") -> Path:
        return self.user_dir(org, user) / "tls"
