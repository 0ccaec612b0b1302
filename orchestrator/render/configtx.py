"""configtx.yaml for configtxgen: the application channel's genesis block (no system channel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.paths import StateDir
from orchestrator.render._yaml import dump
from orchestrator.topology import ORDERER_PORT, PEER_PORT, Node, Org, OrgKind, Topology

PROFILE = "MecChannel"


def _sig(rule: str) -> dict[str, str]:
    return {"Type": "Signature", "Rule": rule}


def _meta(rule: str) -> dict[str, str]:
    return {"Type": "ImplicitMeta", "Rule": rule}


def channel_capability(fabric_version: str) -> str:
    """V3_0 needs Fabric 3 everywhere; 2.5 networks stay on V2_0."""
    return "V3_0" if int(fabric_version.split(".")[0]) >= 3 else "V2_0"


def _organization(topology: Topology, org: Org, state: StateDir) -> dict[str, Any]:
    msp = org.msp_id
    entry: dict[str, Any] = {
        "Name": msp,
        "ID": msp,
        # relative to configtx.yaml, which lives at the root of the state dir
        "MSPDir": _rel(state, state.org_msp(org)),
        "Policies": {
            "Readers": _sig(
                f"OR('{msp}.admin', '{msp}.peer', '{msp}.client', '{msp}.orderer')"
                if org.kind is OrgKind.ORDERER
                else f"OR('{msp}.admin', '{msp}.peer', '{msp}.client')"
            ),
            "Writers": _sig(
                f"OR('{msp}.admin', '{msp}.client', '{msp}.orderer')"
                if org.kind is OrgKind.ORDERER
                else f"OR('{msp}.admin', '{msp}.client')"
            ),
            "Admins": _sig(f"OR('{msp}.admin')"),
        },
    }
    if org.kind is OrgKind.ORDERER:
        entry["OrdererEndpoints"] = [f"{n.host}:{ORDERER_PORT}" for n in topology.orderers_nodes]
    else:
        entry["Policies"]["Endorsement"] = _sig(f"OR('{msp}.peer')")
        # Anchor peers in the genesis block: gossip and the Gateway's discovery need them.
        # (an edge with an emulated link is reached through its link proxy)
        host = topology.peer_endpoint(topology.peer_of(org)).rsplit(":", 1)[0]
        entry["AnchorPeers"] = [{"Host": host, "Port": PEER_PORT}]
    return entry


def _rel(state: StateDir, path: Path) -> str:
    """Paths in configtx.yaml are relative to it (the state dir's root)."""
    return str(path.relative_to(state.root))


def bft_consenter_ids(topology: Topology) -> dict[Node, int]:
    """SmartBFT consenter IDs (the ``ConsenterMapping``): 1..n in the topology's orderer order. The
    orderers' ``leader_id`` gauge names the leader by this ID."""
    return {node: i for i, node in enumerate(topology.orderers_nodes, start=1)}


def render_configtx(topology: Topology, *, fabric_version: str, state: StateDir) -> str:
    if topology.consensus == "bft" and channel_capability(fabric_version) != "V3_0":
        raise ConfigError(f"consensus bft needs Fabric 3 (channel capability V3_0), not Fabric {fabric_version}")
    o = topology.orderers
    orgs = {org.name: _organization(topology, org, state) for org in topology.orgs}
    orderer: dict[str, Any] = {
        "OrdererType": "BFT" if topology.consensus == "bft" else "etcdraft",
        "BatchTimeout": o.batch_timeout,
        "BatchSize": {
            "MaxMessageCount": o.max_message_count,
            "AbsoluteMaxBytes": o.absolute_max_bytes,
            "PreferredMaxBytes": o.preferred_max_bytes,
        },
    }
    if topology.consensus == "bft":
        orderer["ConsenterMapping"] = [
            {
                "ID": i,
                "Host": node.host,
                "Port": ORDERER_PORT,
                "MSPID": node.org.msp_id,
                "Identity": _rel(state, state.node_signcert(node)),
                "ClientTLSCert": _rel(state, state.node_tls(node) / "server.crt"),
                "ServerTLSCert": _rel(state, state.node_tls(node) / "server.crt"),
            }
            for node, i in bft_consenter_ids(topology).items()
        ]
        orderer["SmartBFT"] = {
            "RequestBatchMaxInterval": o.batch_timeout,
            "RequestForwardTimeout": "2s",
            "RequestComplainTimeout": "20s",
            "RequestAutoRemoveTimeout": "3m0s",
            "ViewChangeResendInterval": "5s",
            "ViewChangeTimeout": "20s",
            "LeaderHeartbeatTimeout": "1m0s",
            "CollectTimeout": "1s",
            "IncomingMessageBufferSize": 200,
            "RequestPoolSize": 100000,
            "LeaderHeartbeatCount": 10,
        }
    else:
        orderer["EtcdRaft"] = {
            "Consenters": [
                {
                    "Host": node.host,
                    "Port": ORDERER_PORT,
                    "ClientTLSCert": _rel(state, state.node_tls(node) / "server.crt"),
                    "ServerTLSCert": _rel(state, state.node_tls(node) / "server.crt"),
                }
                for node in topology.orderers_nodes
            ],
            "Options": {
                "TickInterval": o.tick_interval,
                "ElectionTick": o.election_tick,
                "HeartbeatTick": o.heartbeat_tick,
                "MaxInflightBlocks": 5,
                "SnapshotIntervalSize": "16 MB",
            },
        }
    orderer["Organizations"] = [orgs[topology.orderer_org.name]]
    orderer["Policies"] = {
        "Readers": _meta("ANY Readers"),
        "Writers": _meta("ANY Writers"),
        "Admins": _meta("MAJORITY Admins"),
        # for BFT configtxgen replaces this with a policy computed from the consenters
        "BlockValidation": _meta("ANY Writers"),
    }
    orderer["Capabilities"] = {"V2_0": True}
    application = {
        "Organizations": [orgs[org.name] for org in topology.peer_orgs],
        "Policies": {
            "Readers": _meta("ANY Readers"),
            "Writers": _meta("ANY Writers"),
            "Admins": _meta("MAJORITY Admins"),
            "LifecycleEndorsement": _meta("MAJORITY Endorsement"),
            "Endorsement": _meta("MAJORITY Endorsement"),
        },
        "Capabilities": {"V2_5": True},
    }
    data: dict[str, Any] = {
        "Organizations": list(orgs.values()),
        "Profiles": {
            PROFILE: {
                "Policies": {
                    "Readers": _meta("ANY Readers"),
                    "Writers": _meta("ANY Writers"),
                    "Admins": _meta("MAJORITY Admins"),
                },
                "Capabilities": {channel_capability(fabric_version): True},
                "Orderer": orderer,
                "Application": application,
            }
        },
    }
    header = (
        f"Rendered by `mecfab network render` for Fabric {fabric_version}; input of configtxgen.\n"
        f"Profile {PROFILE} makes the genesis block of channel {topology.channel!r}."
    )
    return dump(data, header=header)
