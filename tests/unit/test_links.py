"""Emulated links (issue 11) without Docker: topology validation, radio → rate, render, toxics,
netem commands, and bad command-line input refused before anything is touched."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.errors import ConfigError, EnvironmentProblem
from orchestrator.links.netem import NetemBackend, clear_args, in_netns, netem_args, parse_qdisc
from orchestrator.links.settings import (
    Link,
    LinkSpec,
    RadioLink,
    load_profile,
    parse_duration_ms,
    parse_percent,
    parse_rate_mbit,
    profiles,
)
from orchestrator.links.toxiproxy import link_of, proxies_config, toxics
from orchestrator.paths import StateDir
from orchestrator.render import render_compose, render_configtx, render_crypto_config
from orchestrator.render.configtx import PROFILE
from orchestrator.render.core import render_edge_core
from orchestrator.sim.config import SimConfig
from orchestrator.sim.model import link_rate, shadowing_gain, snr
from orchestrator.topology import Topology, load_topology


def _with_links(links: dict[str, Any], **overrides: Any) -> Topology:
    data = load_topology().with_overrides(**overrides).model_dump()
    data["links"] = links
    return Topology.model_validate(data)


# ---- topology ---------------------------------------------------------------------------------
def test_default_topology_has_no_links_and_no_proxies() -> None:
    t = load_topology()
    assert not t.links.on and not t.links.proxied
    assert t.peer_endpoint(t.peer_nodes[1]) == "peer0.edge1.mec:7051"


def test_links_in_the_topology_turn_proxies_on_and_resolve() -> None:
    t = _with_links({"edges": {"Edge3": {"delay_ms": 40, "jitter_ms": 5, "loss_pct": 1, "rate_mbit": 10}}})
    assert t.links.proxied
    assert t.links.edges["Edge3"].resolve() == Link(delay_ms=40, jitter_ms=5, loss_pct=1.0, rate_bps=10e6)
    assert t.peer_endpoint(t.peer_of(t.org("Edge3"))) == "proxy.edge3.mec:7051"
    assert t.peer_endpoint(t.peer_of(t.org("Cloud"))) == "peer0.cloud.mec:7051"
    netem = _with_links({"enabled": True, "backend": "netem"})
    assert netem.links.on and not netem.links.proxied


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ({"delay_ms": -5}, "greater than or equal to 0"),
        ({"loss_pct": 101}, "less than or equal to 100"),
        ({"rate_mbit": 0}, "greater than 0"),
        ({"delay_ms": 5, "jitter_ms": 6}, "must not exceed delay_ms"),
        ({"rate_mbit": 5, "radio": {"distance_m": 100}}, "not both"),
        ({"radio": {"distance_m": 0}}, "greater than 0"),
        ({"latency": 5}, "Extra inputs"),
    ],
)
def test_impossible_links_are_refused(link: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _with_links({"edges": {"Edge1": link}})


def test_links_must_name_edges_of_the_topology() -> None:
    with pytest.raises(ValueError, match="Edge9, not an edge"):
        _with_links({"edges": {"Edge9": {"delay_ms": 1}}})
    with pytest.raises(ValueError, match="edge name like Edge1"):
        _with_links({"edges": {"Cloud": {"delay_ms": 1}}})


# ---- radio model → rate -------------------------------------------------------------------------
def test_radio_rate_is_the_simulators_eqs_3_and_4_with_its_defaults() -> None:
    c = SimConfig()
    radio = RadioLink(distance_m=300, shadowing_db=-3, followers=2)
    rho = snr(
        transmit_power_w=c.transmit_power_w,
        distance_m=300,
        path_loss_exponent=c.path_loss_exponent,
        shadowing=shadowing_gain(-3),
        bandwidth_hz=c.bandwidth_hz,
        noise_psd_w_per_hz=c.noise_psd_w_per_hz,
    )
    assert radio.rate_bps() == pytest.approx(float(link_rate(c.bandwidth_hz, 2, rho)))
    narrow = RadioLink(distance_m=300, shadowing_db=-3, followers=2, bandwidth_hz=c.bandwidth_hz / 4)
    assert narrow.sim_config().bandwidth_hz == c.bandwidth_hz / 4
    assert narrow.rate_bps() < radio.rate_bps()
    assert RadioLink(distance_m=900).rate_bps() < RadioLink(distance_m=100).rate_bps()
    assert LinkSpec(delay_ms=3, radio=radio).resolve().rate_bps == pytest.approx(radio.rate_bps())


def test_shipped_profiles_load_and_congested_radio_derives_its_rate() -> None:
    assert profiles() == ["congested-radio", "metro-backhaul", "same-site"]
    radio = load_profile("congested-radio").resolve()
    assert radio.rate_bps is not None and 5e6 < radio.rate_bps < 30e6
    assert load_profile("same-site").resolve().rate_bps == 1e9
    with pytest.raises(ConfigError, match="unknown link profile 'lan'"):
        load_profile("lan")


# ---- command-line values ------------------------------------------------------------------------
def test_value_parsing() -> None:
    assert parse_duration_ms("40ms", what="--delay") == 40
    assert parse_duration_ms("0.2s", what="--delay") == 200
    assert parse_percent("1%", what="--loss") == 1.0
    assert parse_rate_mbit("10mbit", what="--rate") == 10.0
    assert parse_rate_mbit("500kbit", what="--rate") == 0.5
    with pytest.raises(ConfigError, match="negative"):
        parse_duration_ms("-5ms", what="--delay")
    with pytest.raises(ConfigError, match="between 0% and 100%"):
        parse_percent("150%", what="--loss")
    with pytest.raises(ConfigError, match="above zero"):
        parse_rate_mbit("0", what="--rate")
    with pytest.raises(ConfigError, match="not a rate"):
        parse_rate_mbit("fast", what="--rate")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Edge3", "--delay", "-5ms"], "is negative"),
        (["Edge3", "--loss", "101%"], "between 0% and 100%"),
        (["Edge3", "--rate", "0mbit"], "must be above zero"),
        (["Edge3", "--delay", "5ms", "--jitter", "9ms"], "must not exceed delay_ms"),
        (["Edge3", "--profile", "lan"], "unknown link profile"),
        (["Edge9", "--delay", "40ms"], "unknown org 'Edge9'"),
        (["Cloud", "--delay", "40ms"], "Cloud is not an edge org"),
        (["Edge3"], "say what to set"),
    ],
)
def test_link_set_refuses_bad_input_with_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["link", "set", *args])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], result.output


# ---- toxics ----------------------------------------------------------------------------------
def test_toxics_split_the_delay_over_both_streams_and_read_back() -> None:
    link = Link(delay_ms=41, jitter_ms=5, loss_pct=2.5, rate_bps=10e6)
    by_name = {t["name"]: t for t in toxics(link)}
    assert by_name["link-latency-upstream"]["attributes"] == {"latency": 20, "jitter": 2}
    assert by_name["link-latency-downstream"]["attributes"] == {"latency": 21, "jitter": 3}
    assert by_name["link-rate-upstream"]["attributes"] == {"rate": 1250}  # KB/s
    assert by_name["link-rate-downstream"]["stream"] == "downstream"
    assert by_name["link-loss"]["type"] == "reset_peer"
    assert by_name["link-loss"]["toxicity"] == pytest.approx(0.025)
    assert link_of(toxics(link)) == link
    assert toxics(Link()) == []
    assert link_of([{"name": "other", "type": "latency", "attributes": {"latency": 9}}]) == Link()


def test_proxies_cover_the_peer_every_orderer_and_the_probe() -> None:
    t = _with_links({"enabled": True})
    edge = t.peer_of(t.org("Edge2"))
    proxies = {p["name"]: p for p in proxies_config(t, edge)}
    assert proxies["peer"] == {
        "name": "peer",
        "listen": "0.0.0.0:7051",
        "upstream": "peer0.edge2.mec:7051",
        "enabled": True,
    }
    assert proxies["orderer2"]["listen"] == "0.0.0.0:7102"
    assert proxies["orderer2"]["upstream"] == "orderer2.orderer.mec:7050"
    assert proxies["probe"]["upstream"] == "127.0.0.1:7098"


# ---- render ----------------------------------------------------------------------------------
def test_render_with_links_adds_proxies_and_points_edges_at_them() -> None:
    t = _with_links({"enabled": True}, edges=2)
    state = StateDir(Path("/repo/.mecfab/x"))
    services = yaml.safe_load(render_compose(t, project="p", state=state, state_rel=".mecfab/x", package_id="x:1"))[
        "services"
    ]
    proxy = services["proxy.edge2.mec"]
    node = t.peer_of(t.org("Edge2"))
    assert proxy["labels"]["mecfab.role"] == "link-proxy"
    assert f"127.0.0.1:{node.proxy_api_port}:8474" in proxy["ports"]
    assert "toxiproxy-server" in proxy["command"][-1] and "nc -ll -p 7098 -e cat" in proxy["command"][-1]
    assert "proxy.cloud.mec" not in services
    peer = services["peer0.edge2.mec"]
    assert peer["environment"]["CORE_PEER_GOSSIP_EXTERNALENDPOINT"] == "proxy.edge2.mec:7051"
    assert peer["environment"]["CORE_PEER_ADDRESS"] == "peer0.edge2.mec:7051"
    assert any(v.endswith(":/etc/hyperledger/fabric/core.yaml:ro") for v in peer["volumes"])
    cloud = services["peer0.cloud.mec"]
    assert cloud["environment"]["CORE_PEER_GOSSIP_EXTERNALENDPOINT"] == "peer0.cloud.mec:7051"
    crypto = yaml.safe_load(render_crypto_config(t))
    edge2 = next(o for o in crypto["PeerOrgs"] if o["Name"] == "Edge2")
    assert "proxy.edge2.mec" in edge2["Specs"][0]["SANS"]
    assert "proxy.edge32.mec" in crypto["OrdererOrgs"][0]["Specs"][0]["SANS"]
    configtx = yaml.safe_load(render_configtx(t, fabric_version="3.1.1", state=state))
    apps = configtx["Profiles"][PROFILE]["Application"]["Organizations"]
    assert apps[2]["AnchorPeers"] == [{"Host": "proxy.edge2.mec", "Port": 7051}]
    assert apps[0]["AnchorPeers"] == [{"Host": "peer0.cloud.mec", "Port": 7051}]


def test_default_render_has_no_proxies() -> None:
    t = load_topology()
    data = yaml.safe_load(render_compose(t, project="p", state=StateDir(Path("/s")), state_rel=".", package_id="x"))
    assert not any(s["labels"]["mecfab.role"] == "link-proxy" for s in data["services"].values())
    assert "proxy.edge1.mec" not in render_crypto_config(t)


def test_edge_core_yaml_routes_every_orderer_through_the_proxy() -> None:
    t = _with_links({"enabled": True})
    base = "vm:\n  endpoint: unix:///var/run/docker.sock\npeer:\n  deliveryclient:\n    addressOverrides:\n"
    core = yaml.safe_load(render_edge_core(base, t, t.peer_of(t.org("Edge1"))))
    assert core["vm"]["endpoint"] == ""
    overrides = core["peer"]["deliveryclient"]["addressOverrides"]
    assert overrides[0] == {
        "from": "orderer1.orderer.mec:7050",
        "to": "proxy.edge1.mec:7101",
        "caCertsFile": "/etc/hyperledger/fabric/orderer-tlsca.pem",
    }
    assert len(overrides) == 3


# ---- netem -----------------------------------------------------------------------------------
def test_netem_commands() -> None:
    link = Link(delay_ms=40, jitter_ms=5, loss_pct=1, rate_bps=10e6)
    assert netem_args(link) == [
        "qdisc", "replace", "dev", "eth0", "root", "netem",
        "delay", "40ms", "5ms", "loss", "1%", "rate", "10000000bit",
    ]  # fmt: skip
    assert netem_args(Link(delay_ms=3)) == ["qdisc", "replace", "dev", "eth0", "root", "netem", "delay", "3ms"]
    assert clear_args() == ["qdisc", "del", "dev", "eth0", "root"]
    assert in_netns(42, ["qdisc", "show"]) == ["nsenter", "--net=/proc/42/ns/net", "tc", "qdisc", "show"]
    shown = "qdisc netem 8001: root refcnt 2 limit 1000 delay 40ms  5ms loss 1% rate 10Mbit\n"
    assert parse_qdisc(shown) == link
    assert parse_qdisc("qdisc noqueue 0: root refcnt 2\n") == Link()


def test_netem_missing_in_the_kernel_is_one_clear_error() -> None:
    calls: list[list[str]] = []

    def runner(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
        calls.append(list(cmd))
        if "netem" in cmd:
            return subprocess.CompletedProcess(list(cmd), 2, "", "Error: Specified qdisc kind is unknown.\n")
        return subprocess.CompletedProcess(list(cmd), 0, "qdisc noqueue 0: root refcnt 2\n", "")

    t = load_topology()
    backend = NetemBackend("p", runner=runner, pid_of=lambda node: 7)
    node = t.peer_of(t.org("Edge1"))
    backend.check(node)
    with pytest.raises(EnvironmentProblem, match="no netem qdisc"):
        backend.apply(node, Link(delay_ms=10))
    assert calls[-1][:3] == ["nsenter", "--net=/proc/7/ns/net", "tc"]
    backend.clear(node)  # nothing to clear: no tc del issued
    assert not any("del" in c for c in calls)
