"""Benchmark configs: the shipped files load; mistakes get one clear error naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.bench.config import load_config, parse_config
from orchestrator.bench.rates import FixedRateOptions, LinearRateOptions
from orchestrator.bench.workloads import WORKLOADS, ReadTaskOptions, RequestTaskOptions
from orchestrator.errors import ConfigError
from orchestrator.topology import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"


def _config(**round_fields: Any) -> dict[str, Any]:
    rnd = {"label": "r1", "tx_count": 10, "rate": {"type": "fixed-rate", "tps": 5}, "workload": "request-task"}
    rnd.update(round_fields)
    return {"name": "t", "rounds": [rnd]}


@pytest.mark.parametrize("name", ["smoke", "seed-sweep", "read-write", "consensus"])
def test_the_shipped_benchmarks_load(name: str) -> None:
    config = load_config(BENCHMARKS / f"{name}.yaml")
    assert config.name == name
    assert config.rounds
    for r in config.rounds:
        assert r.workload.type in WORKLOADS


def test_the_seed_sweep_steps_the_rate_past_saturation_with_a_fixed_count() -> None:
    config = load_config(BENCHMARKS / "seed-sweep.yaml")
    rates = [r.rate.tps for r in config.rounds if isinstance(r.rate, FixedRateOptions)]
    assert len(rates) == len(config.rounds) and rates == sorted(rates) and len(set(rates)) == len(rates)
    assert len({r.tx_count for r in config.rounds}) == 1
    assert max(rates) >= 300


def test_read_write_has_separate_read_and_write_rounds() -> None:
    config = load_config(BENCHMARKS / "read-write.yaml")
    kinds = {WORKLOADS[r.workload.type].kind for r in config.rounds}
    assert kinds == {"submit", "evaluate"}


def test_defaults_fill_in_and_the_resolved_config_round_trips() -> None:
    config = parse_config(_config())
    assert config.workers == 2
    assert config.clients.orgs == ["Edge1", "Edge2", "Edge3", "Edge4"]
    assert isinstance(config.rounds[0].rate, FixedRateOptions)
    assert isinstance(config.rounds[0].workload, RequestTaskOptions)
    dumped = config.dump()
    assert dumped["rounds"][0]["rate"] == {"type": "fixed-rate", "tps": 5.0}
    assert dumped["rounds"][0]["workload"]["cpu_cycles"] == 2_000_000_000
    again = parse_config(yaml.safe_load(yaml.safe_dump(dumped)))
    assert again == config


def test_registry_options_are_typed_per_controller_and_workload() -> None:
    config = parse_config(
        _config(
            rate={"type": "linear-rate", "start_tps": 1, "end_tps": 9}, workload={"type": "read-task", "seed_tasks": 3}
        )
    )
    assert isinstance(config.rounds[0].rate, LinearRateOptions)
    assert isinstance(config.rounds[0].workload, ReadTaskOptions)
    assert config.rounds[0].workload.seed_tasks == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_config(rate={"type": "fixed-rate", "tps": 0}), "rounds.0.rate.tps: Input should be greater than 0"),
        (_config(rate={"type": "fixd-rate", "tps": 1}), "rounds.0.rate: unknown rate controller type 'fixd-rate'"),
        (_config(rate={"type": "linear-rate", "start_tps": 1}), "rounds.0.rate.end_tps: Field required"),
        (_config(rate={"type": "fixed-load"}), "rounds.0.rate.transaction_load: Field required"),
        (_config(rate=5), "rounds.0.rate: must be a mapping with a 'type'"),
        (_config(workload={"type": "request-task", "cpu_cycle": 3}), "rounds.0.workload.cpu_cycle: Extra inputs"),
        (_config(workload="mine-bitcoin"), "rounds.0.workload: unknown workload type 'mine-bitcoin'"),
        (_config(tx_count=None), "rounds.0: give exactly one of tx_count and duration_s"),
        (_config(duration_s=10), "rounds.0: give exactly one of tx_count and duration_s"),
        (_config(label="has space"), "rounds.0.label: String should match pattern"),
        ({"name": "t", "workers": 0, "rounds": []}, "workers: Input should be greater than or equal to 1"),
        ({"name": "t", "rounds": []}, "rounds: List should have at least 1 item"),
        ({"name": "t", "rounds": [_config()["rounds"][0]] * 2}, "round labels must be unique; repeated: r1"),
        ({"name": "t", "clients": {"orgs": ["Edge1", "edge1"]}, "rounds": _config()["rounds"]}, "clients.orgs"),
        ({"name": "t", "rounds": _config()["rounds"], "speed": "fast"}, "speed: Extra inputs are not permitted"),
    ],
)
def test_errors_name_the_offending_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="x.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith("invalid benchmark config x.yaml: ")


def test_a_missing_or_broken_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read benchmark config"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rounds: [\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(bad)


def test_consensus_comparison_refuses_a_bad_pair_before_any_network_starts(tmp_path: Path) -> None:
    from orchestrator.bench.consensus import compare_consensus
    from orchestrator.errors import ConfigError
    from orchestrator.topology import load_topology

    topology = load_topology()
    for pair in (("etcdraft", "etcdraft"), ("etcdraft", "pbft"), ("bft",)):
        with pytest.raises(ConfigError, match="compare two different consensus types of etcdraft, bft"):
            compare_consensus(BENCHMARKS / "consensus.yaml", topology, tmp_path, consensuses=pair)
    assert not any(tmp_path.iterdir())
