"""configtx.yaml for configtxgen: the application channel's genesis block (no system channel)."""

from __future__ import annotations

from typing import Any

from orchestrator.paths import StateDir
from orchestrator.render._yaml import dump
from orchestrator.topology import ORDERER_PORT, PEER_PORT, Org, OrgKind, Topology

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
        "MSPDir": str(state.org_msp(org).relative_to(state.root)),
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
        entry["AnchorPeers"] = [{"Host": topology.peer_of(org).host, "Port": PEER_PORT}]
    return entry


def render_configtx(topology: Topology, *, fabric_version: str, state: StateDir) -> str:
    o = topology.orderers
    orgs = {org.name: _organization(topology, org, state) for org in topology.orgs}
    orderer = {
        "OrdererType": "etcdraft",
        "BatchTimeout": o.batch_timeout,
        "BatchSize": {
            "MaxMessageCount": o.max_message_count,
            "AbsoluteMaxBytes": o.absolute_max_bytes,
            "PreferredMaxBytes": o.preferred_max_bytes,
        },
        "EtcdRaft": {
            "Consenters": [
                {
                    "Host": node.host,
                    "Port": ORDERER_PORT,
                    "ClientTLSCert": str((state.node_tls(node) / "server.crt").relative_to(state.root)),
                    "ServerTLSCert": str((state.node_tls(node) / "server.crt").relative_to(state.root)),
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
        },
        "Organizations": [orgs[topology.orderer_org.name]],
        "Policies": {
            "Readers": _meta("ANY Readers"),
            "Writers": _meta("ANY Writers"),
            "Admins": _meta("MAJORITY Admins"),
            "BlockValidation": _meta("ANY Writers"),
        },
        "Capabilities": {"V2_0": True},
    }
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
