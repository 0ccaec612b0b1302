"""Bad input to membership changes fails with one ConfigError line before anything runs, and the
changed topologies keep every node's host ports. No Docker."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator import membership as m
from orchestrator.errors import ConfigError, NetworkError
from orchestrator.membership_cli import edge_app, orderer_app
from orchestrator.network import NetworkSpec
from orchestrator.topology import EXTRA_ORDERER_SLOT, Topology, load_topology


@pytest.mark.parametrize("name", ["Edge5", "edge5", "Edge5MSP", " Edge5 "])
def test_edge_names(name: str) -> None:
    assert m.parse_edge_number(name) == 5


@pytest.mark.parametrize("name", ["", "Edge 5", "5Edge", "Edge-5", "Édge5", "E" * 33, "Edge5!", "Edge\n5"])
def test_invalid_msp_id_names(name: str) -> None:
    with pytest.raises(ConfigError, match="not a valid org name") as info:
        m.parse_org_name(name)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["Site9", "Edge0", "Edge", "Edge100", "MSP"])
def test_valid_msp_names_that_are_not_edges(name: str) -> None:
    with pytest.raises(ConfigError, match="not an edge name"):
        m.parse_edge_number(name)


def test_add_edge_errors() -> None:
    t = load_topology()  # Cloud, Edge1..Edge4
    with pytest.raises(ConfigError, match="org Edge2 already exists on channel 'mec'"):
        m.topology_with_edge(t, "Edge2")
    with pytest.raises(ConfigError, match="next edge of this network is Edge5, not Edge7"):
        m.topology_with_edge(t, "edge7")
    removed = m.topology_without_edge(t, "Edge2")
    with pytest.raises(ConfigError, match="was removed"):
        m.topology_with_edge(removed, "Edge2")
    with pytest.raises(ConfigError, match=r"edges\.count"):
        m.topology_with_edge(t.with_overrides(edges=32), "Edge33")


def test_remove_and_revoke_errors() -> None:
    t = load_topology()
    with pytest.raises(
        ConfigError, match="org Edge9 is not on channel 'mec' \\(its edges: Edge1, Edge2, Edge3, Edge4\\)"
    ):
        m.edge_of(t, "Edge9")
    with pytest.raises(ConfigError, match="Cloud is the cloud org"):
        m.topology_without_edge(t, "cloud")
    gone = m.topology_without_edge(t, "Edge2")
    with pytest.raises(ConfigError, match="org Edge2 is not on channel"):
        m.topology_without_edge(gone, "Edge2")


def test_orderer_errors() -> None:
    t = load_topology()
    with pytest.raises(ConfigError, match="not an orderer name"):
        m.orderer_of(t, "peer0")
    with pytest.raises(ConfigError, match="orderer4 is not an orderer"):
        m.topology_without_orderer(t, "orderer4")
    one = m.topology_without_orderer(m.topology_without_orderer(t, "orderer1"), "orderer3")
    assert [n.short for n in one.orderers_nodes] == ["orderer2"]
    with pytest.raises(ConfigError, match="cannot remove orderer2: it is the last orderer of channel 'mec'"):
        m.topology_without_orderer(one, "orderer2")
    bft = t.with_overrides(consensus="bft")
    for call in (lambda: m.topology_with_orderer(bft), lambda: m.topology_without_orderer(bft, "orderer1")):
        with pytest.raises(ConfigError, match="this network runs bft"):
            call()


def _ports(t: Topology) -> dict[str, tuple[int, int]]:
    return {n.host: (n.host_port, n.operations_port) for n in t.nodes}


def test_membership_changes_keep_every_nodes_ports() -> None:
    t = load_topology()
    before = _ports(t)
    grown = m.topology_with_orderer(m.topology_with_edge(t, "Edge5"))
    shrunk = m.topology_without_orderer(m.topology_without_edge(grown, "Edge2"), "orderer1")
    for changed in (grown, shrunk):
        assert all(_ports(changed)[host] == ports for host, ports in before.items() if host in _ports(changed))
    assert _ports(grown)["orderer4.orderer.mec"][0] == t.ports.base + 10 * EXTRA_ORDERER_SLOT
    assert _ports(grown)["peer0.edge5.mec"][0] == t.ports.base + 10 * (3 + 5)
    assert [o.name for o in shrunk.peer_orgs] == ["Cloud", "Edge1", "Edge3", "Edge4", "Edge5"]
    assert [n.short for n in shrunk.orderers_nodes] == ["orderer2", "orderer3", "orderer4"]
    assert len({p for ports in _ports(shrunk).values() for p in ports}) == 2 * len(shrunk.nodes)


def test_any_endorsement_gets_a_new_definition_majority_does_not() -> None:
    t = load_topology()
    assert t.chaincode.endorsement == "any"
    added = m.topology_with_edge(t, "Edge5")
    assert added.chaincode.sequence == t.chaincode.sequence + 1
    assert "'Edge5MSP.peer'" in (added.endorsement_policy() or "")
    removed = m.topology_without_edge(added, "Edge1")
    assert removed.chaincode.sequence == t.chaincode.sequence + 2
    assert "Edge1MSP" not in (removed.endorsement_policy() or "")
    majority = Topology.model_validate({**t.model_dump(), "chaincode": {"endorsement": "majority"}})
    assert m.topology_with_edge(majority, "Edge5").chaincode.sequence == majority.chaincode.sequence


def test_changed_topology_survives_the_state_file(tmp_path: Path) -> None:
    changed = m.topology_without_orderer(
        m.topology_with_orderer(m.topology_without_edge(load_topology(), "Edge3")), "orderer2"
    )
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(changed.model_dump(), sort_keys=False))  # as network.render writes it
    assert load_topology(path) == changed


def test_operations_refuse_bad_input_before_touching_anything(tmp_path: Path) -> None:
    # no crypto, no Docker in tmp_path: these must fail on the input alone
    spec = NetworkSpec.isolated(tmp_path, project="mecfab-unit", topology=load_topology().with_overrides(edges=2))
    calls = {
        "add existing": (lambda: m.add_edge(spec, "Edge2"), "already exists"),
        "add bad name": (lambda: m.add_edge(spec, "Edge 3"), "not a valid org name"),
        "remove missing": (lambda: m.remove_edge(spec, "Edge9"), "is not on channel"),
        "revoke missing": (lambda: m.revoke_edge(spec, "Edge3"), "is not on channel"),
        "remove missing orderer": (lambda: m.remove_orderer(spec, "orderer4"), "is not an orderer"),
    }
    one = m.topology_without_orderer(m.topology_without_orderer(spec.topology, "orderer2"), "orderer3")
    single = dataclasses.replace(spec, topology=one)
    calls["remove last orderer"] = (lambda: m.remove_orderer(single, "orderer1"), "last orderer")
    for what, (call, message) in calls.items():
        with pytest.raises(ConfigError, match=message):
            call()
        assert not list(tmp_path.iterdir()), what


def test_a_network_without_state_is_a_clear_error(tmp_path: Path) -> None:
    spec = NetworkSpec.isolated(tmp_path, project="mecfab-unit", topology=load_topology().with_overrides(edges=2))
    with pytest.raises(NetworkError, match="start it with 'make up'"):
        m.add_edge(spec, "Edge3")


def test_cli_bad_input_is_one_line_and_exit_code_2() -> None:
    runner = CliRunner()
    for app, args in ((edge_app, ["add", "Edge 5!"]), (edge_app, ["revoke", "5x"]), (orderer_app, ["remove", "peer0"])):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
