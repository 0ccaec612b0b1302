"""How an agent reaches its own org's peer: endpoint, TLS root, identity, channel and chaincode.

On the host it uses the peer's published port (``from_spec``); inside the agent container, the
peer's Docker host name with the org's TLS CA and User1 MSP mounted read-only (the compose file
passes them to ``mecfab agent --peer``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.errors import ConfigError, NetworkError
from orchestrator.gateway import Gateway, Identity, Timeouts
from orchestrator.ledger import Ledger

if TYPE_CHECKING:
    from orchestrator.network import NetworkSpec


@dataclass(frozen=True)
class PeerConnection:
    org: str
    msp_id: str
    endpoint: str  # host:port of the org's peer
    server_name: str  # the name in the peer's TLS certificate
    tls_ca: Path  # the org's TLS CA certificate (PEM)
    msp_dir: Path  # the signing identity (cryptogen layout)
    channel: str
    chaincode: str

    @classmethod
    def from_spec(cls, spec: NetworkSpec, org_name: str, *, user: str = "User1") -> PeerConnection:
        """Through the peer's host port (an agent or monitor running on the host)."""
        t = spec.topology
        org = t.org(org_name)
        if not org.is_peer_org:
            raise ConfigError(f"{org.name} has no peer: use an edge org or the cloud")
        peer = t.peer_of(org)
        return cls(
            org=org.name,
            msp_id=org.msp_id,
            endpoint=f"{t.ports.bind}:{peer.host_port}",
            server_name=peer.host,
            tls_ca=spec.state.org_tls_ca(org),
            msp_dir=spec.state.user_msp(org, user),
            channel=t.channel,
            chaincode=t.chaincode.name,
        )

    def connect(self, *, timeouts: Timeouts | None = None) -> Ledger:
        """A :class:`Ledger` as this org's user, through this org's peer."""
        if not self.msp_dir.is_dir():
            raise NetworkError(f"no identity in {self.msp_dir} (is the network up? run 'make up')")
        try:
            tls_root = self.tls_ca.read_bytes()
        except OSError as exc:
            raise NetworkError(f"cannot read the TLS CA {self.tls_ca}: {exc.strerror}") from None
        gateway = Gateway(
            endpoint=self.endpoint,
            tls_root_cert=tls_root,
            identity=Identity.from_msp_dir(self.msp_id, self.msp_dir),
            server_name_override=self.server_name,
            timeouts=timeouts,
        )
        contract = gateway.network(self.channel).contract(self.chaincode)
        return Ledger(gateway, contract, org=self.org, msp_id=self.msp_id)


def chain_height(ledger: Ledger) -> int:
    """The channel's block height as the ledger's peer sees it (``qscc GetChainInfo``)."""
    import importlib

    ledger_pb2 = importlib.import_module("fabric_protos.common.ledger_pb2")
    network = ledger.contract.network
    info = ledger_pb2.BlockchainInfo.FromString(network.contract("qscc").evaluate("GetChainInfo", network.channel))
    return int(info.height)
