"""Emulated edge links (issue 11), proven by measurement on a live network of their own.

The network: the default topology cut to two edges, with ``links.enabled`` (a Toxiproxy sidecar
in front of each edge peer and of each edge's orderer connections). Tolerances: a delay is
measured within ±(15 ms + 20 %), a rate within ±25 %; the probes run from the host through the
edge's proxy, the transaction timings come from the Python gateway's per-phase clocks.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator

import pytest

from orchestrator.errors import ConfigError
from orchestrator.ledger import Ledger
from orchestrator.links.control import backend_for, clear_links, set_links, show_links
from orchestrator.links.probe import round_trips, throughput
from orchestrator.links.settings import Link
from orchestrator.network import NetworkSpec
from orchestrator.topology import Topology, load_topology
from tests.integration import waits
from tests.integration.conftest import free_port_base, isolated_network

pytestmark = pytest.mark.integration

DELAY_MS = 120
RATE_BPS = 8e6


def _within_delay(measured_ms: float, expected_ms: float) -> bool:
    return abs(measured_ms - expected_ms) <= 15 + 0.2 * expected_ms


@pytest.fixture(scope="module")
def links_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkSpec]:
    base = load_topology().with_overrides(edges=2, port_base=free_port_base(20000))
    data = base.model_dump()
    data["links"] = {"enabled": True, "backend": "toxiproxy", "edges": {"Edge2": {"delay_ms": 4}}}
    topology = Topology.model_validate(data)
    with isolated_network(tmp_path_factory, "links", topology) as spec:
        yield spec


def test_up_applies_the_topology_links_and_show_reads_them_back(links_network: NetworkSpec) -> None:
    states = {s.org: s for s in show_links(links_network)}
    assert states["Edge2"].applied == Link(delay_ms=4)
    assert states["Edge1"].applied.is_clear
    assert states["Edge2"].endpoint == "proxy.edge2.mec:7051"


def test_probe_measures_the_delay_and_rate_that_were_set(links_network: NetworkSpec) -> None:
    node = links_network.topology.peer_of(links_network.topology.org("Edge1"))
    bind = links_network.topology.ports.bind
    clear_links(links_network, ["Edge1"])
    base_rtt = statistics.median(round_trips(bind, node.probe_port, samples=15))
    set_links(links_network, {"Edge1": Link(delay_ms=DELAY_MS, rate_bps=RATE_BPS)})
    try:
        rtt = statistics.median(round_trips(bind, node.probe_port, samples=15))
        rate = throughput(bind, node.probe_port, nbytes=3_000_000)
    finally:
        clear_links(links_network, ["Edge1"])
    print(f"probe: rtt {base_rtt:.1f} ms clear, {rtt:.1f} ms with {DELAY_MS} ms; rate {rate / 1e6:.2f} Mbit/s")
    assert _within_delay(rtt - base_rtt, DELAY_MS), (base_rtt, rtt)
    assert abs(rate - RATE_BPS) <= 0.25 * RATE_BPS, rate


def _register_timings(spec: NetworkSpec, client_org: str, endorsers: list[str], n: int = 5) -> tuple[float, float]:
    """Median endorse and submit phase [ms] of ``n`` RegisterEdge transactions."""
    endorse, submit = [], []
    with Ledger.connect(spec, client_org) as ledger:
        for _ in range(n):
            result = ledger.contract.submit("RegisterEdge", "2000000000", "2048", "7", endorsing_orgs=endorsers)
            endorse.append(result.timings.endorse_s * 1000)
            submit.append(result.timings.submit_s * 1000)
            waits.synced(spec, result)  # endorsers must agree on the state they read
    return statistics.median(endorse), statistics.median(submit)


def test_endorse_phase_through_the_edge_grows_by_the_delay(links_network: NetworkSpec) -> None:
    """Edge1's gateway asks Edge2's peer (through Edge2's proxy) to endorse; Edge2's own gateway
    broadcasts to the orderer through Edge2's proxy (addressOverrides)."""
    clear_links(links_network, ["Edge2"])
    endorsers = ["Edge1MSP", "Edge2MSP"]
    _register_timings(links_network, "Edge1", endorsers, n=2)  # warm connections
    endorse0, _ = _register_timings(links_network, "Edge1", endorsers)
    _, submit0 = _register_timings(links_network, "Edge2", ["Edge2MSP"])
    set_links(links_network, {"Edge2": Link(delay_ms=DELAY_MS)})
    try:
        endorse1, _ = _register_timings(links_network, "Edge1", endorsers)
        _, submit1 = _register_timings(links_network, "Edge2", ["Edge2MSP"])
    finally:
        clear_links(links_network, ["Edge2"])
    print(f"endorse {endorse0:.1f} → {endorse1:.1f} ms; Edge2 submit {submit0:.1f} → {submit1:.1f} ms")
    assert _within_delay(endorse1 - endorse0, DELAY_MS), (endorse0, endorse1)
    assert _within_delay(submit1 - submit0, DELAY_MS), (submit0, submit1)


def test_bad_link_changes_nothing(links_network: NetworkSpec) -> None:
    set_links(links_network, {"Edge1": Link(delay_ms=7)})
    with pytest.raises(ConfigError, match="unknown org 'Edge9'"):
        set_links(links_network, {"Edge1": Link(delay_ms=50), "Edge9": Link(delay_ms=50)})
    with pytest.raises(ConfigError, match="Cloud is not an edge org"):
        set_links(links_network, {"Edge1": Link(delay_ms=50), "Cloud": Link()})
    node = links_network.topology.peer_of(links_network.topology.org("Edge1"))
    assert backend_for(links_network).read(node) == Link(delay_ms=7)
    clear_links(links_network, ["Edge1"])


def test_jitter_spreads_round_trips_and_full_loss_cuts_connections(links_network: NetworkSpec) -> None:
    node = links_network.topology.peer_of(links_network.topology.org("Edge1"))
    bind = links_network.topology.ports.bind
    set_links(links_network, {"Edge1": Link(delay_ms=100, jitter_ms=60)})
    try:
        rtts = round_trips(bind, node.probe_port, samples=20)
        print(f"jitter: round trips {min(rtts):.1f}..{max(rtts):.1f} ms with 100 ± 60 ms")
        assert max(rtts) - min(rtts) > 30, rtts
        assert min(rtts) >= 100 - 60 - 5 and max(rtts) <= 100 + 60 + 20, rtts
        set_links(links_network, {"Edge1": Link(loss_pct=100)})
        with pytest.raises(OSError):  # every connection through the link is reset
            round_trips(bind, node.probe_port, samples=3, timeout=5)
    finally:
        clear_links(links_network, ["Edge1"])
    assert statistics.median(round_trips(bind, node.probe_port, samples=5)) < 20


def test_netem_backend_on_the_live_peer_applies_or_says_netem_is_missing(links_network: NetworkSpec) -> None:
    """The netem path for real (nsenter into the peer's netns): on a kernel with sch_netem the link
    reads back from tc; without it (this project's CI kernel) one clear error and nothing changed."""
    from orchestrator.errors import EnvironmentProblem
    from orchestrator.links.netem import NetemBackend

    backend = NetemBackend(links_network.project)
    node = links_network.topology.peer_of(links_network.topology.org("Edge2"))
    backend.check(node)
    link = Link(delay_ms=30, jitter_ms=5, loss_pct=0.5, rate_bps=20e6)
    try:
        backend.apply(node, link)
    except EnvironmentProblem as exc:
        assert "no netem qdisc" in str(exc)
        assert backend.read(node).is_clear
        return
    try:
        assert backend.read(node) == link
    finally:
        backend.clear(node)
    assert backend.read(node).is_clear
