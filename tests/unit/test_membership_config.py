"""JSON edits of a decoded channel config (the shape configtxlator's proto_decode gives), and
which admins a config update needs. No Docker, no Fabric binaries."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from orchestrator import membership as m
from orchestrator.errors import ConfigError
from orchestrator.topology import load_topology


def _policy(rule: str | None) -> dict[str, Any]:
    value: dict[str, Any] = {"sub_policy": "Admins"}
    if rule is not None:  # protolator leaves out the enum's zero value (ANY)
        value["rule"] = rule
    return {"mod_policy": "Admins", "policy": {"type": 3, "value": value}, "version": "0"}


def _org(msp: str) -> dict[str, Any]:
    return {
        "groups": {},
        "mod_policy": "Admins",
        "policies": {},
        "values": {
            "MSP": {
                "mod_policy": "Admins",
                "value": {"config": {"name": msp, "revocation_list": [], "root_certs": ["Y2E="]}, "type": 0},
                "version": "0",
            }
        },
        "version": "0",
    }


def _consenter(host: str) -> dict[str, Any]:
    cert = base64.b64encode(f"cert of {host}".encode()).decode()
    return {"client_tls_cert": cert, "host": host, "port": 7050, "server_tls_cert": cert}


def decoded_config(
    orgs: tuple[str, ...] = ("CloudMSP", "Edge1MSP", "Edge2MSP"), orderers: int = 3, rule: str | None = "MAJORITY"
) -> dict[str, Any]:
    hosts = [f"orderer{i}.orderer.mec" for i in range(1, orderers + 1)]
    return {
        "channel_group": {
            "groups": {
                "Application": {
                    "groups": {msp: _org(msp) for msp in orgs},
                    "mod_policy": "Admins",
                    "policies": {"Admins": _policy(rule)},
                    "values": {},
                    "version": "1",
                },
                "Orderer": {
                    "groups": {
                        "OrdererMSP": {
                            "groups": {},
                            "mod_policy": "Admins",
                            "policies": {},
                            "values": {
                                "Endpoints": {
                                    "mod_policy": "Admins",
                                    "value": {"addresses": [f"{h}:7050" for h in hosts]},
                                    "version": "0",
                                },
                                "MSP": _org("OrdererMSP")["values"]["MSP"],
                            },
                            "version": "0",
                        }
                    },
                    "mod_policy": "Admins",
                    "policies": {"Admins": _policy("MAJORITY")},
                    "values": {
                        "ConsensusType": {
                            "mod_policy": "Admins",
                            "value": {
                                "metadata": {"consenters": [_consenter(h) for h in hosts], "options": {}},
                                "state": "STATE_NORMAL",
                                "type": "etcdraft",
                            },
                            "version": "0",
                        }
                    },
                    "version": "0",
                },
            },
            "mod_policy": "Admins",
            "policies": {"Admins": _policy("MAJORITY")},
            "values": {},
            "version": "0",
        },
        "sequence": "3",
    }


def test_add_application_org_adds_only_the_group_and_leaves_the_input_alone() -> None:
    config = decoded_config()
    original = copy.deepcopy(config)
    group = _org("Edge3MSP")
    updated = m.add_application_org(config, "Edge3MSP", group)
    assert config == original
    assert m.application_orgs(updated) == ["CloudMSP", "Edge1MSP", "Edge2MSP", "Edge3MSP"]
    assert updated["channel_group"]["groups"]["Application"]["groups"]["Edge3MSP"] == group
    del updated["channel_group"]["groups"]["Application"]["groups"]["Edge3MSP"]
    assert updated == original


def test_add_existing_or_remove_missing_org_is_a_config_error() -> None:
    config = decoded_config()
    with pytest.raises(ConfigError, match="already a member"):
        m.add_application_org(config, "Edge1MSP", _org("Edge1MSP"))
    with pytest.raises(ConfigError, match="not a member"):
        m.remove_application_org(config, "Edge9MSP")


def test_remove_application_org() -> None:
    updated = m.remove_application_org(decoded_config(), "Edge1MSP")
    assert m.application_orgs(updated) == ["CloudMSP", "Edge2MSP"]
    assert m.application_orgs(decoded_config()) == ["CloudMSP", "Edge1MSP", "Edge2MSP"]


def test_revocation_list_round_trip() -> None:
    config = decoded_config()
    crl = b"-----BEGIN X509 CRL-----\nabc\n-----END X509 CRL-----\n"
    updated = m.with_revocation_list(config, "Edge2MSP", [crl])
    msp = updated["channel_group"]["groups"]["Application"]["groups"]["Edge2MSP"]["values"]["MSP"]["value"]["config"]
    assert msp["revocation_list"] == [base64.b64encode(crl).decode()]
    assert m.revocation_list(updated, "Edge2MSP") == [crl]
    assert m.revocation_list(updated, "Edge1MSP") == []
    assert m.revocation_list(config, "Edge2MSP") == []


def test_add_raft_consenter() -> None:
    config = decoded_config()
    pem = b"-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n"
    updated = m.add_raft_consenter(config, host="orderer4.orderer.mec", port=7050, tls_cert=pem)
    assert m.raft_consenters(updated)[-1] == "orderer4.orderer.mec:7050"
    assert len(m.raft_consenters(config)) == 3
    new = updated["channel_group"]["groups"]["Orderer"]["values"]["ConsensusType"]["value"]["metadata"]["consenters"][
        -1
    ]
    assert base64.b64decode(new["client_tls_cert"]) == pem == base64.b64decode(new["server_tls_cert"])
    assert m.orderer_endpoints(updated, "OrdererMSP") == m.orderer_endpoints(config, "OrdererMSP")  # a later update
    with pytest.raises(ConfigError, match="already a consenter"):
        m.add_raft_consenter(updated, host="orderer4.orderer.mec", port=7050, tls_cert=pem)


def test_remove_raft_consenter() -> None:
    updated = m.remove_raft_consenter(decoded_config(), host="orderer2.orderer.mec", port=7050)
    assert m.raft_consenters(updated) == ["orderer1.orderer.mec:7050", "orderer3.orderer.mec:7050"]
    with pytest.raises(ConfigError, match="not a consenter"):
        m.remove_raft_consenter(updated, host="orderer2.orderer.mec", port=7050)


def test_orderer_endpoints_are_edited_apart_from_the_consenters() -> None:
    config = decoded_config()
    more = m.with_orderer_endpoint(config, orderer_msp="OrdererMSP", address="orderer4.orderer.mec:7050")
    assert m.orderer_endpoints(more, "OrdererMSP")[-1] == "orderer4.orderer.mec:7050"
    assert m.with_orderer_endpoint(more, orderer_msp="OrdererMSP", address="orderer4.orderer.mec:7050") == more
    assert m.raft_consenters(more) == m.raft_consenters(config)
    fewer = m.without_orderer_endpoint(config, orderer_msp="OrdererMSP", address="orderer1.orderer.mec:7050")
    assert m.orderer_endpoints(fewer, "OrdererMSP") == ["orderer2.orderer.mec:7050", "orderer3.orderer.mec:7050"]
    assert len(m.orderer_endpoints(config, "OrdererMSP")) == 3
    single = decoded_config(orderers=1)
    with pytest.raises(ConfigError, match="last orderer endpoint"):
        m.without_orderer_endpoint(single, orderer_msp="OrdererMSP", address="orderer1.orderer.mec:7050")


def test_the_last_consenter_stays() -> None:
    with pytest.raises(ConfigError, match="last consenter"):
        m.remove_raft_consenter(decoded_config(orderers=1), host="orderer1.orderer.mec", port=7050)


def test_bft_config_has_no_raft_consenters() -> None:
    config = decoded_config()
    config["channel_group"]["groups"]["Orderer"]["values"]["ConsensusType"]["value"]["type"] = "BFT"
    with pytest.raises(ConfigError, match="not etcdraft"):
        m.raft_consenters(config)


@pytest.mark.parametrize(
    ("orgs", "rule", "needed"),
    [(3, "MAJORITY", 2), (4, "MAJORITY", 3), (5, "MAJORITY", 3), (6, "MAJORITY", 4), (5, "ALL", 5), (5, None, 1)],
)
def test_required_signatures_follow_the_implicit_meta_rule(orgs: int, rule: str | None, needed: int) -> None:
    msps = tuple(["CloudMSP", *(f"Edge{i}MSP" for i in range(1, orgs))])
    assert m.required_signatures(decoded_config(msps, rule=rule), "Application") == (needed, sorted(msps))


def test_pick_admins_takes_the_fewest_and_avoids_the_org_being_removed() -> None:
    topology = load_topology().with_overrides(edges=3)
    config = decoded_config(("CloudMSP", "Edge1MSP", "Edge2MSP", "Edge3MSP"))
    assert [str(s) for s in m.pick_admins(topology, config, "Application")] == [
        "Admin@CloudMSP",
        "Admin@Edge1MSP",
        "Admin@Edge2MSP",
    ]
    avoiding = m.pick_admins(topology, config, "Application", prefer_not=["Edge1MSP"])
    assert [s.msp_id for s in avoiding] == ["CloudMSP", "Edge2MSP", "Edge3MSP"]
    assert [str(s) for s in m.pick_admins(topology, config, "Orderer")] == ["Admin@OrdererMSP"]


def test_pick_admins_refuses_when_the_state_lacks_enough_admins() -> None:
    topology = load_topology().with_overrides(edges=1)  # knows Cloud and Edge1 only
    config = decoded_config(("CloudMSP", "Edge1MSP", "Edge2MSP", "Edge3MSP", "Edge4MSP"))
    with pytest.raises(ConfigError, match="needs 3 org admins"):
        m.pick_admins(topology, config, "Application")


def test_a_non_implicit_meta_policy_is_refused() -> None:
    config = decoded_config()
    config["channel_group"]["groups"]["Application"]["policies"]["Admins"]["policy"]["type"] = 1
    with pytest.raises(ConfigError, match="not an implicit-meta"):
        m.required_signatures(config, "Application")
