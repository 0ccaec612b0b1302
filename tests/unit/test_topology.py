"""The topology model: defaults, derived nodes and ports, and clear refusals of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from orchestrator.errors import ConfigError
from orchestrator.topology import Topology, load_topology


def test_default_topology_has_three_orderers_cloud_and_four_edges() -> None:
    t = load_topology()
    assert [n.host for n in t.orderers_nodes] == [
        "orderer1.orderer.mec",
        "orderer2.orderer.mec",
        "orderer3.orderer.mec",
    ]
    assert [o.msp_id for o in t.peer_orgs] == ["CloudMSP", "Edge1MSP", "Edge2MSP", "Edge3MSP", "Edge4MSP"]
    assert [n.host for n in t.peer_nodes][:2] == ["peer0.cloud.mec", "peer0.edge1.mec"]


def test_every_host_port_is_distinct() -> None:
    t = load_topology().with_overrides(edges=16, orderers=5)
    ports = [p for n in t.nodes for p in (n.host_port, n.operations_port)]
    ports += [n.admin_port for n in t.orderers_nodes]
    assert len(ports) == len(set(ports)) == 22 * 2 + 5


def test_overrides_are_validated_like_the_file() -> None:
    t = load_topology()
    assert len(t.with_overrides(edges=7).peer_orgs) == 8
    with pytest.raises(ConfigError, match=r"orderers\.count"):
        t.with_overrides(orderers=4)
    with pytest.raises(ConfigError, match=r"edges\.count"):
        t.with_overrides(edges=0)


def test_bind_override_moves_every_endpoint_host_side_clients_use() -> None:
    t = load_topology().with_overrides(bind="198.18.7.2", port_base=23000)
    assert t.ports.bind == "198.18.7.2"
    assert t.peer_nodes[0].endpoint == f"198.18.7.2:{t.peer_nodes[0].host_port}"
    assert t.orderers_nodes[0].admin_endpoint == f"198.18.7.2:{t.orderers_nodes[0].admin_port}"
    assert load_topology().peer_nodes[0].endpoint == f"127.0.0.1:{load_topology().peer_nodes[0].host_port}"
    assert t.with_overrides(edges=2).ports.bind == "198.18.7.2", "other overrides keep it"


def test_orderer_count_must_fit_the_consensus() -> None:
    t = load_topology()
    assert t.with_overrides(consensus="bft").orderers.count == 4
    assert t.with_overrides(consensus="bft", orderers=7).orderers.count == 7
    with pytest.raises(ConfigError, match="does not fit consensus bft: use 4 or 7"):
        t.with_overrides(consensus="bft", orderers=5)
    with pytest.raises(ConfigError, match="does not fit consensus etcdraft: use 3 or 5"):
        t.with_overrides(orderers=4)


def test_org_lookup_by_name_or_msp_and_unknown_org_is_named() -> None:
    t = load_topology()
    assert t.org("edge2").msp_id == "Edge2MSP"
    assert t.org("CloudMSP").name == "Cloud"
    with pytest.raises(ConfigError, match=r"unknown org 'Edge9'.*Edge4"):
        t.org("Edge9")


def test_peer_has_no_admin_port() -> None:
    with pytest.raises(ConfigError, match="no orderer admin endpoint"):
        _ = load_topology().peer_nodes[0].admin_port


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("orderers: {count: 2}", "orderers.count"),
        ("orderers: {batch_timeout: soon}", "not a duration"),
        ("edges: {count: 4, colour: red}", "edges.colour"),
        ("consensus: pbft", "consensus"),
        ("ports: {base: 80}", "ports.base"),
        ("- a list", "must be a mapping"),
        ("name: [unclosed", "not valid YAML"),
    ],
)
def test_bad_topology_files_are_refused_with_the_field_named(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "topology.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=fragment):
        load_topology(path)


def test_missing_topology_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read topology"):
        load_topology(tmp_path / "nope.yaml")


def test_endorsement_policy_lists_every_peer_org_or_defers_to_the_channel() -> None:
    t = load_topology()
    assert t.endorsement_policy() == (
        "OR('CloudMSP.peer', 'Edge1MSP.peer', 'Edge2MSP.peer', 'Edge3MSP.peer', 'Edge4MSP.peer')"
    )
    data = t.model_dump()
    data["chaincode"]["endorsement"] = "majority"
    assert Topology.model_validate(data).endorsement_policy() is None


def test_peer_go_runtime_settings_render_only_when_set() -> None:
    from orchestrator.render.compose import peer_environment

    default = load_topology()
    peer = default.peer_nodes[0]
    assert not {"GOMEMLIMIT", "GOGC"} & set(peer_environment(default, peer))
    data = default.model_dump(mode="json")
    data["peers"] = {"go_memory_limit": "100MiB", "gogc": 50}
    tuned = Topology.model_validate(data)
    env = peer_environment(tuned, tuned.peer_nodes[0])
    assert (env["GOMEMLIMIT"], env["GOGC"]) == ("100MiB", "50")
    for bad in ({"go_memory_limit": "100MB"}, {"go_memory_limit": "-1MiB"}, {"gogc": 0}):
        with pytest.raises(ValidationError):
            Topology.model_validate({**data, "peers": bad})
