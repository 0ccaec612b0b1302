"""Channel configuration updates, done by Fabric's own tools.

The path of every update (Fabric's "Updating a channel configuration" tutorial):
fetch the latest config block with the peer CLI → decode it with ``configtxlator`` → edit the
JSON (in :mod:`orchestrator.membership`) → ``configtxlator`` encodes both configs, computes the
update and encodes it wrapped in an envelope → one org admin after another signs it with
``peer channel signconfigtx`` → the last signer submits it with ``peer channel update`` (which
adds its own signature). Python never touches a protobuf here.

Every update's files stay in ``<state>/config-updates/<n>-<label>/`` for inspection (the last
plain fetch in ``config-updates/latest/``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError, NetworkError
from orchestrator.fabric_tools import FabricTools, ToolError
from orchestrator.paths import StateDir
from orchestrator.topology import Node, Org

log = logging.getLogger(__name__)

CONFIG_UPDATE_HEADER_TYPE = 2  # common.HeaderType_CONFIG_UPDATE


class UpdateRefused(NetworkError):
    """The ordering service refused a config update (e.g. its signatures do not satisfy the
    policy); the channel config is unchanged."""


@dataclass(frozen=True)
class Signer:
    """An identity that signs or submits a config update: one org's ``user`` (``Admin`` by default)."""

    org: Org
    user: str = "Admin"

    @property
    def msp_id(self) -> str:
        return self.org.msp_id

    def __str__(self) -> str:
        return f"{self.user}@{self.msp_id}"


@dataclass(frozen=True)
class ChannelConfig:
    """A channel's config as ``configtxlator`` decodes it, and the number of the block holding it."""

    block_number: int
    config: dict[str, Any]
    block_file: Path

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON: equal fingerprints, equal configs."""
        return hashlib.sha256(json.dumps(self.config, sort_keys=True).encode()).hexdigest()


def updates_dir(state: StateDir) -> Path:
    """Where each update's files (config, updated config, envelope) are kept."""
    return state.root / "config-updates"


def signer_env(state: StateDir, signer: Signer) -> dict[str, str]:
    """The peer CLI acting as ``signer`` (for commands that only talk to the orderer)."""
    return {
        "CORE_PEER_LOCALMSPID": signer.msp_id,
        "CORE_PEER_MSPCONFIGPATH": str(state.user_msp(signer.org, signer.user)),
        "CORE_PEER_TLS_ENABLED": "true",
        "FABRIC_LOGGING_SPEC": "WARNING",
    }


class ConfigTx:
    """Config updates of one channel, with the Fabric tools of one version."""

    def __init__(self, tools: FabricTools, state: StateDir, channel: str) -> None:
        self.tools = tools
        self.state = state
        self.channel = channel

    # ---- files --------------------------------------------------------------------------------
    def workdir(self, label: str) -> Path:
        base = updates_dir(self.state)
        base.mkdir(parents=True, exist_ok=True)
        n = 1 + max((int(p.name[:3]) for p in base.iterdir() if p.name[:3].isdigit()), default=0)
        path = base / f"{n:03d}-{label}"
        path.mkdir()
        return path

    # ---- configtxlator ------------------------------------------------------------------------
    def decode(self, path: Path, message: str) -> dict[str, Any]:
        out = self.tools.run("configtxlator", ["proto_decode", "--input", str(path), "--type", message])
        data: dict[str, Any] = json.loads(out)
        return data

    def encode(self, data: dict[str, Any], message: str, path: Path) -> Path:
        source = path.with_suffix(".json")
        source.write_text(json.dumps(data, indent=1, sort_keys=True))
        self.tools.run(
            "configtxlator", ["proto_encode", "--input", str(source), "--type", message, "--output", str(path)]
        )
        return path

    # ---- fetch --------------------------------------------------------------------------------
    def fetch(self, *, orderer: Node, reader: Signer, into: Path | None = None) -> ChannelConfig:
        """The latest config block from ``orderer``, read as ``reader`` (needs the channel's Readers)."""
        folder = into or updates_dir(self.state) / "latest"
        folder.mkdir(parents=True, exist_ok=True)
        block = folder / "config_block.pb"
        self.tools.run(
            "peer",
            [
                "channel",
                "fetch",
                "config",
                str(block),
                "-c",
                self.channel,
                *self.tools.orderer_flags(self.state, orderer),
            ],
            env=signer_env(self.state, reader),
            timeout=30,
        )
        decoded = self.decode(block, "common.Block")
        (folder / "config_block.json").write_text(json.dumps(decoded, indent=1))
        config: dict[str, Any] = decoded["data"]["data"][0]["payload"]["data"]["config"]
        return ChannelConfig(int(decoded["header"].get("number", 0)), config, block)

    def wait_for_config(self, *, after: int, orderer: Node, reader: Signer, timeout: float = 60) -> ChannelConfig:
        """Poll until the orderer's latest config block is newer than block ``after``. While the
        consenters change, the orderer may answer SERVICE_UNAVAILABLE for a moment: polled through."""
        deadline = time.monotonic() + timeout
        folder = self.workdir("committed")
        while True:
            try:
                latest = self.fetch(orderer=orderer, reader=reader, into=folder)
            except ToolError as exc:
                if time.monotonic() > deadline:
                    raise
                log.debug("fetch config from %s: %s", orderer.host, exc)
            else:
                if latest.block_number > after:
                    return latest
            if time.monotonic() > deadline:
                raise NetworkError(
                    f"the config update was accepted but no new config block after block {after} "
                    f"appeared within {timeout:.0f} s"
                )
            time.sleep(0.3)

    # ---- compute, sign, submit ----------------------------------------------------------------
    def prepare(self, original: dict[str, Any], updated: dict[str, Any], *, label: str) -> Path:
        """The signed-nowhere envelope of the update from ``original`` to ``updated``."""
        folder = self.workdir(label)
        before = self.encode(original, "common.Config", folder / "config.pb")
        after = self.encode(updated, "common.Config", folder / "modified_config.pb")
        update = folder / "config_update.pb"
        try:
            self.tools.run(
                "configtxlator",
                [
                    "compute_update",
                    "--channel_id",
                    self.channel,
                    "--original",
                    str(before),
                    "--updated",
                    str(after),
                    "--output",
                    str(update),
                ],
            )
        except ToolError as exc:
            if "no differences" in exc.detail:
                raise ConfigError(f"nothing to change in the config of channel {self.channel!r}") from None
            raise
        envelope = {
            "payload": {
                "header": {"channel_header": {"channel_id": self.channel, "type": CONFIG_UPDATE_HEADER_TYPE}},
                "data": {"config_update": self.decode(update, "common.ConfigUpdate")},
            }
        }
        return self.encode(envelope, "common.Envelope", folder / "config_update_in_envelope.pb")

    def sign(self, envelope: Path, signer: Signer) -> None:
        """Add ``signer``'s signature to the update (``peer channel signconfigtx``, in place)."""
        self.tools.run("peer", ["channel", "signconfigtx", "-f", str(envelope)], env=signer_env(self.state, signer))

    def submit(self, envelope: Path, *, submitter: Signer, orderer: Node) -> None:
        """``peer channel update``: adds ``submitter``'s signature and broadcasts the update."""
        try:
            self.tools.run(
                "peer",
                [
                    "channel",
                    "update",
                    "-f",
                    str(envelope),
                    "-c",
                    self.channel,
                    *self.tools.orderer_flags(self.state, orderer),
                ],
                env=signer_env(self.state, submitter),
                timeout=60,
            )
        except ToolError as exc:
            raise UpdateRefused(
                f"{orderer.host} refused the config update of channel {self.channel!r}: {_reason(exc.detail)}"
            ) from None

    def apply(
        self,
        original: ChannelConfig,
        updated: dict[str, Any],
        *,
        label: str,
        signers: list[Signer],
        orderer: Node,
        reader: Signer,
    ) -> ChannelConfig:
        """Prepare, sign by every one of ``signers`` (the last submits), wait for the new config block."""
        if not signers:
            raise ConfigError("a config update needs at least one signer")
        envelope = self.prepare(original.config, updated, label=label)
        for signer in signers[:-1]:
            self.sign(envelope, signer)
        self.submit(envelope, submitter=signers[-1], orderer=orderer)
        return self.wait_for_config(after=original.block_number, orderer=orderer, reader=reader)

    # ---- other tools --------------------------------------------------------------------------
    def print_org(self, msp_id: str) -> dict[str, Any]:
        """An application org's config group as JSON (``configtxgen -printOrg`` on the rendered
        configtx.yaml: MSP with its certificates, policies, anchor peers)."""
        out = self.tools.run(
            "configtxgen", ["-printOrg", msp_id], env={"FABRIC_CFG_PATH": str(self.state.configtx_dir)}
        )
        group: dict[str, Any] = json.loads(out)
        return group

    def cryptogen_extend(self) -> None:
        """Crypto material for every org and node of the rendered crypto-config that has none yet
        (existing CAs sign the new nodes)."""
        self.tools.run(
            "cryptogen",
            ["extend", f"--config={self.state.crypto_config}", f"--input={self.state.organizations}"],
        )


def _reason(detail: str) -> str:
    """The orderer's reason from ``peer channel update``'s output (it follows the status)."""
    for marker in ("got unexpected status: ", "Error: "):
        if marker in detail:
            return detail.split(marker, 1)[1]
    return detail
