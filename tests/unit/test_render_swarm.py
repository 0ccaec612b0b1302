"""The swarm stack render: structure, crypto as configs and secrets, placement, determinism."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.errors import ConfigError
from orchestrator.network import DEFAULT_SWARM_PROJECT, NetworkSpec
from orchestrator.paths import StateDir
from orchestrator.render.compose import peer_environment
from orchestrator.render.swarm import crypto_files, render_swarm, service_name
from orchestrator.topology import DEFAULT_TOPOLOGY, load_topology

STATE = StateDir(Path("/repo/.mecfab/sw"))


def _render(**kwargs: Any) -> dict[str, Any]:
    t = kwargs.pop("topology", None) or load_topology().with_overrides(port_base=23000)
    text = render_swarm(t, project="sw", state=STATE, package_id="mectask_1.0:ab", fabric_version="3.1.1", **kwargs)
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def test_one_service_per_node_and_chaincode_server_on_an_attachable_overlay() -> None:
    t = load_topology()
    data = _render()
    assert data["version"] == "3.8"
    assert data["networks"]["mec"]["driver"] == "overlay" and data["networks"]["mec"]["attachable"] is True
    hosts = [n.host for n in t.nodes] + [n.chaincode_host for n in t.peer_nodes]
    assert list(data["services"]) == [service_name(h) for h in hosts]
    assert all("." not in name for name in data["services"]), "swarm service names are DNS labels"
    for host in hosts:
        svc = data["services"][service_name(host)]
        # the compose host names stay resolvable on the overlay: TLS names, gossip, cc.{{.peername}}
        assert svc["networks"] == {"mec": {"aliases": [host]}}
        assert svc["hostname"] == host
        assert svc["deploy"]["endpoint_mode"] == "dnsrr"
        assert svc["deploy"]["restart_policy"]["condition"] == "any"
        for unsupported in ("depends_on", "container_name", "profiles"):
            assert unsupported not in svc


def test_environment_is_the_compose_render_s() -> None:
    t = load_topology().with_overrides(port_base=23000)
    peer = t.peer_nodes[1]
    svc = _render(topology=t)["services"][service_name(peer.host)]
    assert svc["environment"] == peer_environment(t, peer)
    cc = _render(topology=t)["services"][service_name(peer.chaincode_host)]
    assert cc["environment"]["CHAINCODE_ID"] == "mectask_1.0:ab"
    assert svc["image"] == "${MECFAB_PEER_IMAGE:-mecfab/fabric-peer:3.1.1}"


def test_crypto_travels_as_configs_and_keys_as_secrets_never_as_bind_mounts() -> None:
    t = load_topology().with_overrides(port_base=23000)
    data = _render(topology=t)
    for node in t.nodes:
        svc = data["services"][service_name(node.host)]
        assert [v["type"] for v in svc["volumes"]] == ["volume"], "only the ledger volume, no bind mounts"
        secret_targets = {s["target"] for s in svc["secrets"]}
        config_targets = {c["target"] for c in svc["configs"]}
        msp = "/var/hyperledger/orderer/msp" if node.is_orderer else "/etc/hyperledger/fabric/msp"
        tls = "/var/hyperledger/orderer/tls" if node.is_orderer else "/etc/hyperledger/fabric/tls"
        assert secret_targets == {f"{msp}/keystore/priv_sk", f"{tls}/server.key"}
        assert f"{msp}/config.yaml" in config_targets and f"{tls}/server.crt" in config_targets
        assert f"{msp}/signcerts/{node.host}-cert.pem" in config_targets
        assert all(s["mode"] == 0o400 for s in svc["secrets"])
        for mount in svc["secrets"]:
            assert data["secrets"][mount["source"]]["file"].endswith(("priv_sk", "server.key"))
        for mount in svc["configs"]:
            source = data["configs"][mount["source"]]["file"]
            assert source.startswith("./organizations/") and not source.endswith(("priv_sk", ".key"))
    assert not any(f.endswith(("priv_sk", ".key")) for f in (c["file"] for c in data["configs"].values()))
    assert len(data["secrets"]) == 2 * len(t.nodes)
    assert len(data["configs"]) == sum(len(crypto_files(n)) - 2 for n in t.nodes)


def test_ports_are_published_in_host_mode_below_32000() -> None:
    t = load_topology().with_overrides(port_base=23000)
    data = _render(topology=t)
    orderer = data["services"][service_name(t.orderers_nodes[0].host)]
    assert {"target": 7053, "published": 23002, "protocol": "tcp", "mode": "host"} in orderer["ports"]
    peer_ports = data["services"][service_name(t.peer_nodes[0].host)]["ports"]
    assert [p["target"] for p in peer_ports] == [7051, 9443]
    assert all(p["mode"] == "host" for s in data["services"].values() for p in s.get("ports", []))
    assert "ports" not in data["services"][service_name(t.peer_nodes[0].chaincode_host)]
    ingress = _render(topology=t, publish="ingress")
    assert all(p["mode"] == "ingress" for s in ingress["services"].values() for p in s.get("ports", []))
    with pytest.raises(ConfigError, match="below 32000"):
        _render(topology=load_topology().with_overrides(port_base=31990))


def test_placement_constraints_only_when_orgs_are_pinned() -> None:
    t = load_topology().with_overrides(port_base=23000)
    assert not any("placement" in s["deploy"] for s in _render(topology=t)["services"].values())
    pinned = _render(topology=t, pin_orgs=True)["services"]
    for node in t.nodes:
        constraints = pinned[service_name(node.host)]["deploy"]["placement"]["constraints"]
        assert constraints == [f"node.labels.mecfab.org == {node.org.name}"]
    cc = pinned[service_name(t.peer_nodes[2].chaincode_host)]["deploy"]["placement"]["constraints"]
    assert cc == [f"node.labels.mecfab.org == {t.peer_nodes[2].org.name}"], "a chaincode server runs with its peer"


def test_rendering_is_deterministic() -> None:
    t = load_topology().with_overrides(edges=6, port_base=23000)
    kwargs: dict[str, Any] = {"project": "p", "state": STATE, "package_id": "x:y", "fabric_version": "3.1.1"}
    assert render_swarm(t, **kwargs) == render_swarm(t, **kwargs)
    assert render_swarm(t, pin_orgs=True, **kwargs) == render_swarm(t, pin_orgs=True, **kwargs)


def test_object_names_longer_than_swarm_allows_are_refused() -> None:
    t = load_topology()
    with pytest.raises(ConfigError, match="longer than 64"):
        render_swarm(t, project="p" * 50, state=STATE, package_id="x:y", fabric_version="3.1.1")


def test_swarm_spec_has_its_own_project_state_dir_and_stack_file() -> None:
    spec = NetworkSpec.default(topology_file=DEFAULT_TOPOLOGY, target="swarm")
    assert spec.project == DEFAULT_SWARM_PROJECT
    assert spec.state.root.name == DEFAULT_SWARM_PROJECT
    assert spec.stack_file == spec.state.root / "swarm-stack.yaml"
    assert spec.compose_file != NetworkSpec.default(topology_file=DEFAULT_TOPOLOGY).compose_file
    with pytest.raises(ConfigError, match="unknown target"):
        NetworkSpec.default(topology_file=DEFAULT_TOPOLOGY, target="k8s")


def test_links_are_refused_for_the_swarm_target() -> None:
    from orchestrator.errors import ConfigError

    data = load_topology().model_dump(mode="json")
    data["links"] = {"enabled": True}
    t = load_topology().model_validate(data)
    with pytest.raises(ConfigError, match=r"emulated links .* are compose-only"):
        _render(topology=t)
