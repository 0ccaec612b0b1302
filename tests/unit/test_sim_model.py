"""Equations 1-5, execution and queueing against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from orchestrator.sim import model


def test_eq1_migration_latency() -> None:
    # |Z| K / β = 4 × 1e6 bit / 1e9 bit/s
    assert model.migration_latency(4, 1.0e6, 1.0e9) == pytest.approx(4.0e-3)


def test_eq2_block_generation_latency() -> None:
    # (N + 2^N - 1) ν / ι = (3 + 8 - 1) × 1e5 / 2e9 = 5e-4 s
    assert model.block_generation_cycles(3, 1.0e5) == pytest.approx(1.0e6)
    assert model.block_generation_latency(3, 1.0e5, 2.0e9) == pytest.approx(5.0e-4)
    assert model.block_generation_cycles(0, 1.0e5) == 0.0  # 0 + 1 - 1


def test_eq2_large_n_does_not_overflow() -> None:
    assert model.block_generation_cycles(1023, 1.0) == pytest.approx(2.0**1023)
    assert model.block_generation_cycles(5000, 1.0e5) == math.inf
    assert model.block_generation_latency(5000, 1.0e5, 1.0e9) == math.inf
    with pytest.raises(ValueError, match="block_transactions"):
        model.block_generation_cycles(-1, 1.0)


def test_eq4_snr() -> None:
    # W d^-ϱ Υ / (B M0) = 1 × 100^-2 × 1 / (1e6 × 1e-14) = 1e-4 / 1e-8 = 1e4
    rho = model.snr(
        transmit_power_w=1.0,
        distance_m=100.0,
        path_loss_exponent=2.0,
        shadowing=1.0,
        bandwidth_hz=1.0e6,
        noise_psd_w_per_hz=1.0e-14,
    )
    assert float(rho) == pytest.approx(1.0e4)


def test_shadowing_gain_is_db_to_linear() -> None:
    assert model.shadowing_gain(10.0).item() == pytest.approx(10.0)
    assert model.shadowing_gain(-3.0).item() == pytest.approx(10**-0.3)


def test_eq3_link_rate() -> None:
    # (B / F) log2(1 + ρ) = (1e6 / 4) × log2(16) = 1e6 bit/s
    assert float(model.link_rate(1.0e6, 4, 15.0)) == pytest.approx(1.0e6)
    with pytest.raises(ValueError, match="followers"):
        model.link_rate(1.0e6, 0, 15.0)


def test_quorum_is_floor_half() -> None:
    assert [model.quorum_followers(n) for n in (1, 2, 3, 4, 5)] == [0, 1, 1, 2, 2]


def test_eq5_consensus_latency_is_quorum_th_round_trip() -> None:
    out = np.array([1.0e6, 2.0e6, 4.0e6, 0.5e6])
    back = np.full(4, 1.0e6)
    # round trips H/R_out + U/R_in with H = 1e6, U = 1e3: 1.001, 0.501, 0.251, 2.001
    assert model.consensus_latency(1.0e6, 1.0e3, out, back, quorum=2) == pytest.approx(0.501)
    assert model.consensus_latency(1.0e6, 1.0e3, out, back, quorum=1) == pytest.approx(0.251)
    assert model.consensus_latency(1.0e6, 1.0e3, out, back, quorum=0) == 0.0


def test_eq5_matrix_matches_scalar_form() -> None:
    rates = np.array([[0.0, 1.0e6, 3.0e6], [2.0e6, 0.0, 5.0e6], [4.0e6, 1.0e6, 0.0]])
    got = model.consensus_latencies(rates, append_bits=2.0e6, ack_bits=1.0e4)
    for leader in range(3):
        followers = [f for f in range(3) if f != leader]
        want = model.consensus_latency(2.0e6, 1.0e4, rates[leader, followers], rates[followers, leader], quorum=1)
        assert got[leader] == pytest.approx(want)
    # leader 0: to f1 2 + 0.01/2 = 2.005, to f2 2/3 + 0.01/4 = 0.6692 → best is f2
    assert got[0] == pytest.approx(2.0 / 3.0 + 0.0025)
    assert model.consensus_latencies(np.zeros((1, 1)), append_bits=1.0, ack_bits=1.0).tolist() == [0.0]


def test_link_rate_matrix_applies_eq3_and_eq4() -> None:
    dist = model.distance_matrix(np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 5.0]]), min_distance_m=10.0)
    assert dist[0, 1] == pytest.approx(100.0)
    assert dist[0, 2] == pytest.approx(10.0)  # 5 m floored at 10 m
    shadow = np.zeros((3, 3))
    shadow[0, 1] = 10.0  # +10 dB on the 0 → 1 link only
    rates = model.link_rate_matrix(
        distance_m=dist,
        shadowing_db=shadow,
        bandwidth_hz=1.0e6,
        transmit_power_w=1.0,
        path_loss_exponent=2.0,
        noise_psd_w_per_hz=1.0e-14,
    )
    # ρ(0,1) = 1 × 100^-2 × 10 / 1e-8 = 1e5; R = (1e6 / 2) log2(1 + 1e5)
    assert rates[0, 1] == pytest.approx(0.5e6 * math.log2(1.0 + 1.0e5))
    assert rates[1, 0] == pytest.approx(0.5e6 * math.log2(1.0 + 1.0e4))
    assert np.all(np.diag(rates) == 0.0)


def test_execution_queueing_and_drain() -> None:
    assert float(model.execution_latency(1.0e9, 2.0e9)) == pytest.approx(0.5)
    assert float(model.queueing_delay(3.0e9, 1.5e9)) == pytest.approx(2.0)
    left = model.drain_backlog(np.array([5.0e9, 1.0e9]), np.array([2.0e9, 2.0e9]), 1.0)
    assert left.tolist() == pytest.approx([3.0e9, 0.0])


def test_total_latency_is_the_sum_of_terms() -> None:
    terms = model.node_latencies(
        items=2,
        item_bits=1.0e6,
        cycles=1.0e9,
        capacity_hz=np.array([1.0e9, 2.0e9]),
        backlog_cycles=np.array([0.0, 2.0e9]),
        backhaul_bps=np.array([1.0e9, 1.0e9]),
        block_cycles=1.0e8,
        consensus_s=np.array([0.1, 0.2]),
    )
    # node 0: 0.002 + 0 + 1 + 0.1 + 0.1; node 1: 0.002 + 1 + 0.5 + 0.05 + 0.2
    assert terms.total_s.tolist() == pytest.approx([1.202, 1.752])
    assert terms.for_node(1)["queueing_s"] == pytest.approx(1.0)


def test_reward_penalises_missed_deadlines() -> None:
    assert model.reward(0.5, 1.0, 2.0) == pytest.approx(-0.5)
    assert model.reward(1.5, 1.0, 2.0) == pytest.approx(-3.5)
