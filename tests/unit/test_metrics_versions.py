"""Prometheus parsing of Fabric's /metrics, and the version pins."""

from __future__ import annotations

import pytest

from orchestrator.errors import ConfigError
from orchestrator.metrics import parse_prometheus, value
from orchestrator.versions import Images, default_fabric_version, fabric_version, supported_fabric_versions

FABRIC_METRICS = """\
# HELP consensus_etcdraft_is_leader The leadership status of the current node.
# TYPE consensus_etcdraft_is_leader gauge
consensus_etcdraft_is_leader{channel="mec"} 1
consensus_etcdraft_is_leader{channel="other"} 0
ledger_blockchain_height{channel="mec"} 42
endorser_proposal_duration_bucket{channel="mec",chaincode="mectask:1.0",success="true",le="0.005"} 3
go_memstats_alloc_bytes 1.234e+07
weird line without value
"""


def test_parse_prometheus_reads_labels_and_values() -> None:
    samples = parse_prometheus(FABRIC_METRICS)
    assert value(samples, "consensus_etcdraft_is_leader", channel="mec") == 1
    assert value(samples, "consensus_etcdraft_is_leader", channel="other") == 0
    assert value(samples, "ledger_blockchain_height", channel="mec") == 42
    assert value(samples, "go_memstats_alloc_bytes") == 12_340_000
    assert value(samples, "endorser_proposal_duration_bucket", le="0.005", success="true") == 3
    assert value(samples, "ledger_blockchain_height", channel="nope") is None
    assert len(samples) == 5  # the malformed line is skipped


def test_versions_come_from_the_pin_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FABRIC_VERSION", raising=False)
    assert default_fabric_version() == "3.1.1"
    assert supported_fabric_versions() == ["2.5.0", "3.1.1"]
    assert fabric_version() == "3.1.1"
    monkeypatch.setenv("FABRIC_VERSION", "2.5.0")
    assert fabric_version() == "2.5.0"
    with pytest.raises(ConfigError, match=r"Fabric 3\.1\.2 is not pinned.*2\.5\.0, 3\.1\.1"):
        fabric_version("3.1.2")


def test_image_names_are_overridable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MECFAB_PEER_IMAGE", raising=False)
    assert Images.for_version("2.5.0").peer == "mecfab/fabric-peer:2.5.0"
    monkeypatch.setenv("MECFAB_PEER_IMAGE", "hyperledger/fabric-peer:3.1.1")
    assert Images.for_version("3.1.1").peer == "hyperledger/fabric-peer:3.1.1"
