"""Bad parameters are refused with a message naming the field."""

from __future__ import annotations

import math

import pytest

from orchestrator.errors import ConfigError
from orchestrator.sim.config import (
    DdpgConfig,
    SimConfig,
    parameter_table,
    parse_ddpg_config,
    parse_sim_config,
)


def test_defaults_are_valid_and_documented() -> None:
    config = parse_sim_config({})
    assert config == SimConfig()
    for name, _default, description in parameter_table(SimConfig) + parameter_table(DdpgConfig):
        assert "[" in description and "]" in description, f"{name} has no unit"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"bandwidth_hz": -1.0}, "bandwidth_hz"),
        ({"n_nodes": 0}, "n_nodes"),
        ({"transmit_power_w": math.nan}, "transmit_power_w"),
        ({"noise_psd_w_per_hz": math.inf}, "noise_psd_w_per_hz"),
        ({"arrival_rate_hz": 0.0}, "arrival_rate_hz"),
        ({"block_transactions": 500}, "block_transactions"),
        ({"capacity_min_hz": 5.0e9, "capacity_max_hz": 1.0e9}, "capacity_min_hz"),
        ({"bandwith_hz": 1.0}, "bandwith_hz"),  # a typo is not silently ignored
    ],
)
def test_bad_sim_config_is_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        parse_sim_config(changes)


def test_bad_ddpg_config_is_refused() -> None:
    with pytest.raises(ConfigError, match="soft_update"):
        parse_ddpg_config({"soft_update": 1.5})
    with pytest.raises(ConfigError, match="optimizer"):
        parse_ddpg_config({"optimizer": "lbfgs"})
    with pytest.raises(ConfigError, match="noise_std"):
        parse_ddpg_config({"noise_std": math.nan})


def test_with_updates_validates() -> None:
    config = SimConfig().with_updates(n_nodes=7)
    assert config.n_nodes == 7
    with pytest.raises(ConfigError, match="bandwidth_hz"):
        SimConfig().with_updates(bandwidth_hz=-5.0)


def test_configs_are_frozen() -> None:
    with pytest.raises(Exception, match="frozen"):
        SimConfig().n_nodes = 3  # type: ignore[misc]
