"""The agents in the topology and in the compose file: one per edge, under a profile, read-only identity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.errors import ConfigError
from orchestrator.paths import StateDir
from orchestrator.render import render_compose
from orchestrator.topology import DEFAULT_EDGE_SERVERS, EdgeServerSpec, load_topology


def _services() -> dict[str, dict[str, object]]:
    t = load_topology()
    text = render_compose(t, project="p", state=StateDir(Path("/r/.mecfab/x")), state_rel=".mecfab/x", package_id="a:b")
    services: dict[str, dict[str, object]] = yaml.safe_load(text)["services"]
    return services


def test_one_agent_per_edge_only_under_the_agents_profile() -> None:
    services = _services()
    agents = {name: s for name, s in services.items() if name.startswith("agent.")}
    assert sorted(agents) == [f"agent.edge{i}.mec" for i in range(1, 5)]
    assert all(s["profiles"] == ["agents"] for s in agents.values())
    assert not any("profiles" in s for name, s in services.items() if name not in agents)  # the network itself


def test_an_agent_reaches_its_own_peer_with_its_orgs_user_and_tls_ca_read_only() -> None:
    agent = _services()["agent.edge2.mec"]
    env = agent["environment"]
    assert isinstance(env, dict)
    assert env["MECFAB_PEER"] == "peer0.edge2.mec:7051"
    assert agent["volumes"] == [
        "./.mecfab/x/organizations/peerOrganizations/edge2.mec/users/User1@edge2.mec/msp:/etc/mecfab/msp:ro",
        "./.mecfab/x/organizations/peerOrganizations/edge2.mec/tlsca/tlsca.edge2.mec-cert.pem:/etc/mecfab/tls-ca.pem:ro",
        "./.mecfab/x/agents/Edge2.secret:/etc/mecfab/agent.secret:ro",
    ]
    assert env["MECFAB_AGENT_SECRET_FILE"] == "/etc/mecfab/agent.secret"
    assert "depends_on" not in agent  # starting agents never touches the peers
    node = load_topology().peer_nodes[2]
    assert agent["ports"] == [f"127.0.0.1:{node.agent_port}:8700"]
    assert (agent["cpus"], agent["mem_limit"]) == (0.5, "256m")


def test_default_edges_differ_and_explicit_servers_win() -> None:
    t = load_topology()
    servers = [t.edge_server(o) for o in t.edge_orgs]
    assert servers == list(DEFAULT_EDGE_SERVERS)
    assert len({(s.cpus, s.price_per_gigacycle, s.background_load) for s in servers}) == 4
    custom = t.model_copy(update={"edges": t.edges.model_copy(update={"servers": {"Edge2": EdgeServerSpec(cpus=2.0)}})})
    assert custom.edge_server(custom.org("Edge2")).cpus == 2.0
    assert custom.edge_server(custom.org("Edge1")) == DEFAULT_EDGE_SERVERS[0]


def test_agent_ports_do_not_clash_with_any_node_port() -> None:
    t = load_topology().with_overrides(edges=16)
    ports = [p for n in t.nodes for p in (n.host_port, n.operations_port)]
    ports += [n.admin_port for n in t.orderers_nodes]
    agent_ports = [t.peer_of(o).agent_port for o in t.edge_orgs]
    assert len(set(ports) | set(agent_ports)) == len(ports) + len(agent_ports)


def test_only_edges_have_agents_and_server_names_are_checked() -> None:
    t = load_topology()
    with pytest.raises(ConfigError, match="no agent"):
        _ = t.peer_nodes[0].agent_port  # the Cloud's peer
    with pytest.raises(ConfigError, match="not an edge org"):
        t.edge_server(t.org("Cloud"))
    data = t.model_dump()
    data["edges"]["servers"] = {"Cloud": {"cpus": 1}}
    with pytest.raises(ValueError, match="must be an edge name"):
        type(t).model_validate(data)


def test_an_agent_shares_a_network_only_with_its_own_peer() -> None:
    services: dict[str, Any] = _services()
    on: dict[str, set[str]] = {}
    for name, service in services.items():
        for network in service["networks"]:
            on.setdefault(network, set()).add(name)
    for i in range(1, 5):
        agent = f"agent.edge{i}.mec"
        assert services[agent]["networks"] == [f"mec-edge{i}"]
        assert on[f"mec-edge{i}"] == {agent, f"peer0.edge{i}.mec"}  # reachable from its own org only
    assert "peer0.cloud.mec" in on["mec"] and not any(a.startswith("agent.") for a in on["mec"])
