"""Renderers: deterministic output, consistent with the topology, and the committed default render."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import yaml

from orchestrator.network import DEFAULT_COMPOSE, NetworkSpec
from orchestrator.paths import StateDir
from orchestrator.render import ccaas_package, package_id, render_compose, render_configtx, render_crypto_config
from orchestrator.render.configtx import PROFILE, channel_capability
from orchestrator.topology import DEFAULT_TOPOLOGY, load_topology


def test_committed_compose_file_is_the_default_render() -> None:
    spec = NetworkSpec.default(topology_file=DEFAULT_TOPOLOGY)
    assert spec.compose_file == DEFAULT_COMPOSE
    assert DEFAULT_COMPOSE.read_text() == spec.render_compose(), "run 'make render' and commit docker-compose.yaml"


def test_non_default_topology_gets_its_compose_file_in_its_state_dir() -> None:
    spec = NetworkSpec.default(topology_file=DEFAULT_TOPOLOGY, edges=6)
    assert spec.compose_file == spec.state.root / "docker-compose.yaml"
    assert spec.state_rel == "."


def test_rendering_is_deterministic() -> None:
    t = load_topology().with_overrides(edges=3)
    state = StateDir(Path("/s"))
    assert render_crypto_config(t) == render_crypto_config(t)
    assert render_configtx(t, fabric_version="3.1.1", state=state) == render_configtx(
        t, fabric_version="3.1.1", state=state
    )
    assert ccaas_package(t) == ccaas_package(t)


def test_crypto_config_names_every_node_with_loopback_sans() -> None:
    t = load_topology()
    data = yaml.safe_load(render_crypto_config(t))
    assert [s["Hostname"] for s in data["OrdererOrgs"][0]["Specs"]] == ["orderer1", "orderer2", "orderer3"]
    assert [o["Domain"] for o in data["PeerOrgs"]] == ["cloud.mec", "edge1.mec", "edge2.mec", "edge3.mec", "edge4.mec"]
    assert all("127.0.0.1" in s["SANS"] for o in data["PeerOrgs"] for s in o["Specs"])


def test_a_non_loopback_bind_is_named_by_every_tls_certificate() -> None:
    data = yaml.safe_load(render_crypto_config(load_topology().with_overrides(bind="198.18.7.2")))
    specs = [s for o in [*data["OrdererOrgs"], *data["PeerOrgs"]] for s in o["Specs"]]
    assert all(s["SANS"] == ["localhost", "127.0.0.1", "198.18.7.2"] for s in specs)
    default = yaml.safe_load(render_crypto_config(load_topology()))
    assert all(s["SANS"] == ["localhost", "127.0.0.1"] for s in default["OrdererOrgs"][0]["Specs"])


def test_configtx_has_raft_consenters_anchor_peers_and_version_capabilities() -> None:
    t = load_topology().with_overrides(orderers=5)
    state = StateDir(Path("/s"))
    data = yaml.safe_load(render_configtx(t, fabric_version="3.1.1", state=state))
    profile = data["Profiles"][PROFILE]
    consenters = profile["Orderer"]["EtcdRaft"]["Consenters"]
    assert [c["Host"] for c in consenters] == [f"orderer{i}.orderer.mec" for i in range(1, 6)]
    assert consenters[0]["ServerTLSCert"] == (
        "organizations/ordererOrganizations/orderer.mec/orderers/orderer1.orderer.mec/tls/server.crt"
    )
    assert profile["Orderer"]["BatchTimeout"] == t.orderers.batch_timeout
    assert profile["Capabilities"] == {"V3_0": True}
    apps = profile["Application"]["Organizations"]
    assert apps[1]["AnchorPeers"] == [{"Host": "peer0.edge1.mec", "Port": 7051}]
    assert apps[1]["Policies"]["Endorsement"]["Rule"] == "OR('Edge1MSP.peer')"
    v25 = yaml.safe_load(render_configtx(t, fabric_version="2.5.0", state=state))
    assert v25["Profiles"][PROFILE]["Capabilities"] == {"V2_0": True}
    assert channel_capability("3.1.1") == "V3_0"


def _untar(data: bytes) -> dict[str, tarfile.TarInfo | bytes]:
    files: dict[str, tarfile.TarInfo | bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member)
            assert extracted is not None
            files[member.name] = extracted.read()
            files[member.name + "#info"] = member
    return files


def test_ccaas_package_layout_and_id() -> None:
    t = load_topology()
    pkg = ccaas_package(t)
    outer = _untar(pkg)
    assert sorted(k for k in outer if not k.endswith("#info")) == ["code.tar.gz", "metadata.json"]
    assert not any(k.startswith("./") for k in outer)
    assert json.loads(outer["metadata.json"]) == {"type": "ccaas", "label": "mectask_1.0"}  # type: ignore[arg-type]
    code = outer["code.tar.gz"]
    assert isinstance(code, bytes)
    inner = _untar(code)
    conn = json.loads(inner["connection.json"])  # type: ignore[arg-type]
    assert conn["address"] == "cc.{{.peername}}:9999"
    assert gzip.decompress(pkg)[:100]  # a real gzip stream
    assert package_id("mectask_1.0", pkg) == "mectask_1.0:" + hashlib.sha256(pkg).hexdigest()


def test_compose_wires_each_peer_to_its_chaincode_and_publishes_loopback_ports() -> None:
    t = load_topology()
    state = StateDir(Path("/repo/.mecfab/x"))
    data = yaml.safe_load(
        render_compose(t, project="p", state=state, state_rel=".mecfab/x", package_id="mectask_1.0:ab")
    )
    services = data["services"]
    assert len(services) == 3 + 5 + 5 + 4  # orderers, peers, chaincode servers, edge agents
    agents = [name for name, svc in services.items() if svc["labels"]["mecfab.role"] == "agent"]
    assert len(agents) == 4 and all(services[a]["profiles"] == ["agents"] for a in agents)
    for a in agents:  # each agent gets its own org's secret, read-only, and is told where it is
        org = a.split(".")[1].capitalize()
        secret = services[a]["environment"]["MECFAB_AGENT_SECRET_FILE"]
        assert any(v.endswith(f"agents/{org}.secret:{secret}:ro") for v in services[a]["volumes"]), a
    peer = services["peer0.edge2.mec"]
    assert json.loads(peer["environment"]["CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"]) == {"peername": "edge2.mec"}
    assert "cc.edge2.mec" in services
    assert services["cc.edge2.mec"]["environment"]["CHAINCODE_ID"] == "mectask_1.0:ab"
    node = t.peer_nodes[2]
    assert f"127.0.0.1:{node.host_port}:7051" in peer["ports"]
    assert peer["volumes"][0].startswith("./.mecfab/x/organizations/peerOrganizations/edge2.mec/peers/")
    orderer = services["orderer1.orderer.mec"]
    assert f"127.0.0.1:{t.orderers_nodes[0].admin_port}:7053" in orderer["ports"]
    assert orderer["labels"]["mecfab.role"] == "orderer"


def test_switching_fabric_version_on_an_existing_network_is_refused(tmp_path: Path) -> None:
    from typing import cast

    import pytest

    from orchestrator.errors import ConfigError
    from orchestrator.fabric_tools import FabricTools
    from orchestrator.network import generate

    spec = NetworkSpec.isolated(tmp_path, project="p", topology=load_topology(), version="2.5.0")
    (tmp_path / "fabric-version").write_text("3.1.1\n")
    with pytest.raises(ConfigError, match=r"created with Fabric 3\.1\.1, not 2\.5\.0"):
        generate(spec, cast(FabricTools, None))
    assert not spec.compose_file.exists(), "nothing may be rendered when refusing"


def test_bft_configtx_maps_four_consenters_with_identities_and_needs_fabric_3() -> None:
    from orchestrator.errors import ConfigError

    t = load_topology().with_overrides(consensus="bft")
    assert t.orderers.count == 4
    state = StateDir(Path("/s"))
    orderer = yaml.safe_load(render_configtx(t, fabric_version="3.1.1", state=state))["Profiles"][PROFILE]["Orderer"]
    assert orderer["OrdererType"] == "BFT" and "EtcdRaft" not in orderer
    mapping = orderer["ConsenterMapping"]
    assert [(c["ID"], c["Host"]) for c in mapping] == [(i, f"orderer{i}.orderer.mec") for i in range(1, 5)]
    assert mapping[0]["Identity"].endswith("orderers/orderer1.orderer.mec/msp/signcerts/orderer1.orderer.mec-cert.pem")
    assert orderer["SmartBFT"]["RequestBatchMaxInterval"] == t.orderers.batch_timeout
    import pytest

    with pytest.raises(ConfigError, match="bft needs Fabric 3"):
        render_configtx(t, fabric_version="2.5.0", state=state)
