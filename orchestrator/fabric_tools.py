"""Fabric's own command-line tools (cryptogen, configtxgen, osnadmin, the peer CLI), run on the host.

Each tool call is one small method; errors carry the tool's last line of output.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import EnvironmentProblem, NetworkError
from orchestrator.paths import StateDir, fabric_home
from orchestrator.topology import Node

log = logging.getLogger(__name__)

BINARIES = ("peer", "orderer", "osnadmin", "configtxgen", "cryptogen", "configtxlator")


@dataclass(frozen=True)
class FabricTools:
    home: Path  # holds bin/ and config/ (the module's sampleconfig)
    version: str

    @classmethod
    def locate(cls, version: str) -> FabricTools:
        home = fabric_home(version)
        missing = [b for b in BINARIES if not (home / "bin" / b).is_file()]
        if missing:
            raise EnvironmentProblem(
                f"Fabric {version} tools missing in {home / 'bin'} ({', '.join(missing)}): run 'make images'"
            )
        return cls(home=home, version=version)

    def run(
        self,
        tool: str,
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        timeout: float = 120,
    ) -> str:
        cmd = [str(self.home / "bin" / tool), *args]
        full_env = {**os.environ, "FABRIC_CFG_PATH": str(self.home / "config"), **(env or {})}
        log.debug("run %s", " ".join(cmd))
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise NetworkError(f"{tool} {' '.join(args[:3])} did not finish within {timeout:.0f} s") from None
        if proc.returncode != 0:
            text = " ".join(ln.strip() for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip())
            raise ToolError(tool, args, text or f"exit code {proc.returncode}")
        return proc.stdout

    # ---- artifacts -----------------------------------------------------------------------
    def cryptogen(self, state: StateDir) -> None:
        self.run("cryptogen", ["generate", f"--config={state.crypto_config}", f"--output={state.organizations}"])

    def genesis_block(self, state: StateDir, *, profile: str, channel: str) -> None:
        block = state.channel_block(channel)
        block.parent.mkdir(parents=True, exist_ok=True)
        self.run(
            "configtxgen",
            ["-profile", profile, "-channelID", channel, "-outputBlock", str(block)],
            env={"FABRIC_CFG_PATH": str(state.configtx_dir)},
        )

    # ---- orderer admin (channel participation API) ---------------------------------------
    def _osnadmin_tls(self, state: StateDir, orderer: Node) -> list[str]:
        admin_tls = state.user_tls(orderer.org, "Admin")
        return [
            "-o",
            orderer.admin_endpoint,
            "--ca-file",
            str(state.org_tls_ca(orderer.org)),
            "--client-cert",
            str(admin_tls / "client.crt"),
            "--client-key",
            str(admin_tls / "client.key"),
        ]

    def orderer_channels(self, state: StateDir, orderer: Node) -> list[str]:
        out = self.run("osnadmin", ["channel", "list", *self._osnadmin_tls(state, orderer)])
        body = out[out.find("{") :] if "{" in out else "{}"
        channels = json.loads(body).get("channels") or []
        return [c["name"] for c in channels]

    def orderer_join(self, state: StateDir, orderer: Node, channel: str, *, block: Path | None = None) -> None:
        """Join ``orderer`` with the genesis block, or with ``block`` (the latest config block, for an
        orderer added to a running channel)."""
        self.run(
            "osnadmin",
            [
                "channel",
                "join",
                "--channelID",
                channel,
                "--config-block",
                str(block or state.channel_block(channel)),
                *self._osnadmin_tls(state, orderer),
            ],
        )

    def orderer_channel(self, state: StateDir, orderer: Node, channel: str) -> dict[str, Any]:
        """osnadmin's view of one channel: status, consensusRelation, height."""
        out = self.run("osnadmin", ["channel", "list", "--channelID", channel, *self._osnadmin_tls(state, orderer)])
        info: dict[str, Any] = json.loads(out[out.find("{") :] if "{" in out else "{}")
        return info

    # ---- peer CLI as an org admin --------------------------------------------------------
    def peer_env(self, state: StateDir, peer: Node) -> dict[str, str]:
        return {
            "CORE_PEER_LOCALMSPID": peer.org.msp_id,
            "CORE_PEER_MSPCONFIGPATH": str(state.user_msp(peer.org, "Admin")),
            "CORE_PEER_ADDRESS": peer.endpoint,
            "CORE_PEER_TLS_ENABLED": "true",
            "CORE_PEER_TLS_ROOTCERT_FILE": str(state.org_tls_ca(peer.org)),
            "FABRIC_LOGGING_SPEC": "WARNING",
        }

    def peer(self, state: StateDir, peer: Node, args: Sequence[str], timeout: float = 120) -> str:
        return self.run("peer", args, env=self.peer_env(state, peer), timeout=timeout)

    def peer_channels(self, state: StateDir, peer: Node) -> list[str]:
        out = self.peer(state, peer, ["channel", "list"])
        return [ln.strip() for ln in out.splitlines() if ln.strip() and not ln.startswith("Channels ")]

    def orderer_flags(self, state: StateDir, orderer: Node) -> list[str]:
        return ["-o", orderer.endpoint, "--tls", "--cafile", str(state.org_tls_ca(orderer.org))]

    def installed_packages(self, state: StateDir, peer: Node) -> list[str]:
        out = self.peer(state, peer, ["lifecycle", "chaincode", "queryinstalled", "--output", "json"])
        data: dict[str, Any] = json.loads(out or "{}")
        return [c["package_id"] for c in data.get("installed_chaincodes") or []]

    def approvals(self, state: StateDir, peer: Node, *, channel: str, definition: Sequence[str]) -> dict[str, bool]:
        out = self.peer(
            state,
            peer,
            ["lifecycle", "chaincode", "checkcommitreadiness", "-C", channel, *definition, "--output", "json"],
        )
        approvals: dict[str, bool] = json.loads(out).get("approvals", {})
        return approvals

    def committed(self, state: StateDir, peer: Node, *, channel: str, name: str) -> dict[str, Any] | None:
        try:
            out = self.peer(
                state, peer, ["lifecycle", "chaincode", "querycommitted", "-C", channel, "-n", name, "--output", "json"]
            )
        except ToolError as exc:
            if any(s in exc.detail for s in ("not found", "does not exist", "is not defined", "404")):
                return None
            raise
        result: dict[str, Any] = json.loads(out)
        return result


class ToolError(NetworkError):
    def __init__(self, tool: str, args: Sequence[str], detail: str) -> None:
        self.tool = tool
        self.detail = detail
        super().__init__(f"{tool} {' '.join(a for a in args[:3] if not a.startswith('/'))} failed: {detail}")


def retry(what: str, call: Callable[[], None], *, timeout: float = 30, interval: float = 1) -> None:
    """``call`` until it stops raising ToolError: a node that just became healthy may still reset
    connections to its admin or gRPC listener. ``call`` must be idempotent (check, then act)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            call()
            return
        except ToolError as exc:
            if time.monotonic() > deadline:
                raise
            log.debug("%s: %s", what, exc)
            time.sleep(interval)


def org_admin_flags(state: StateDir, peers: Sequence[Node]) -> list[str]:
    """--peerAddresses/--tlsRootCertFiles for a lifecycle commit endorsed by ``peers``."""
    flags: list[str] = []
    for peer in peers:
        flags += [
            "--peerAddresses",
            peer.endpoint,
            "--tlsRootCertFiles",
            str(state.org_tls_ca(peer.org)),
        ]
    return flags
