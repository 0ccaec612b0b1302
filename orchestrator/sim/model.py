"""The latency model of section IV as pure functions: equations 1-5, execution and queueing.

Units are SI throughout: seconds, bits, bit/s, Hz, W, metres, CPU cycles. Nothing here holds state
or draws random numbers; :mod:`orchestrator.sim.cluster` applies these to a trace over time.

The total latency of a task of ``|Z|`` items of ``K`` bits and ``c`` CPU cycles executed by node
``l`` is the sum of five terms (:class:`LatencyTerms`)::

    migration   |Z| K / β                                (eq. 1)
    queueing    w_l / ι_l          w_l: cycles queued at l when the task arrives
    execution   c / ι_l
    block       (N + 2^N - 1) ν / ι_l                    (eq. 2)
    consensus   H / R(l,ζ) + U / R(ζ,l)                  (eq. 5, rates from eq. 3 and 4)

For eq. 5 the leader must hear back from ζ = ⌊N/2⌋ followers (with itself, a Raft majority), so
the consensus term is the ζ-th shortest round trip ``H/R(l,f) + U/R(f,l)`` over its followers;
a single-node cluster needs no consensus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


# ----------------------------------------------------------------------------- equations 1-5
def migration_latency(items: int, item_bits: float, backhaul_bps: float) -> float:
    """Eq. 1: τ^TML = |Z| K / β, seconds to move a task's ``items`` of ``item_bits`` to the leader."""
    return items * item_bits / backhaul_bps


def block_generation_cycles(block_transactions: int, cycles_per_hash: float) -> float:
    """The numerator of eq. 2, (N + 2^N - 1) ν, in CPU cycles.

    2^N is formed as an exact integer, so it never overflows; when the result exceeds the float
    range the function returns ``math.inf`` instead of raising.
    """
    if block_transactions < 0:
        raise ValueError(f"block_transactions must be >= 0, got {block_transactions}")
    hashes = block_transactions + (1 << block_transactions) - 1
    try:
        return float(hashes) * cycles_per_hash
    except OverflowError:
        return math.inf


def block_generation_latency(block_transactions: int, cycles_per_hash: float, capacity_hz: float) -> float:
    """Eq. 2: τ^CLBG = (N + 2^N - 1) ν / ι_l, seconds for leader ``l`` to generate the block."""
    return block_generation_cycles(block_transactions, cycles_per_hash) / capacity_hz


def shadowing_gain(shadowing_db: FloatArray | float) -> FloatArray:
    """Υ, the linear log-normal shadowing factor 10^(X/10) for X in dB."""
    return np.power(10.0, np.asarray(shadowing_db, dtype=np.float64) / 10.0)


def snr(
    *,
    transmit_power_w: float,
    distance_m: FloatArray | float,
    path_loss_exponent: float,
    shadowing: FloatArray | float,
    bandwidth_hz: float,
    noise_psd_w_per_hz: float,
) -> FloatArray:
    """Eq. 4: ρ = W d^-ϱ Υ / (B M0) (dimensionless; splitting W and B over F links leaves it unchanged)."""
    d = np.asarray(distance_m, dtype=np.float64)
    return np.asarray(
        transmit_power_w
        * np.power(d, -path_loss_exponent)
        * np.asarray(shadowing, dtype=np.float64)
        / (bandwidth_hz * noise_psd_w_per_hz),
        dtype=np.float64,
    )


def link_rate(bandwidth_hz: float, followers: int, snr_value: FloatArray | float) -> FloatArray:
    """Eq. 3: R(l,f) = (B / F_l) log2(1 + ρ(l,f)) in bit/s; the leader splits B over its F_l followers."""
    if followers < 1:
        raise ValueError(f"followers must be >= 1, got {followers}")
    return np.asarray(bandwidth_hz / followers * np.log2(1.0 + np.asarray(snr_value)), dtype=np.float64)


def quorum_followers(n_nodes: int) -> int:
    """ζ = ⌊N/2⌋: followers whose confirmation, with the leader's own, makes a Raft majority."""
    return n_nodes // 2


def consensus_latency(
    append_bits: float, ack_bits: float, rate_out_bps: FloatArray, rate_in_bps: FloatArray, *, quorum: int
) -> float:
    """Eq. 5: τ^RCB = H / R(l,ζ) + U / R(ζ,l), the ζ-th shortest follower round trip, in seconds.

    ``rate_out_bps[f]`` is R(l,f) and ``rate_in_bps[f]`` is R(f,l) for each follower ``f``.
    """
    if quorum <= 0:
        return 0.0
    out = np.asarray(rate_out_bps, dtype=np.float64)
    back = np.asarray(rate_in_bps, dtype=np.float64)
    if quorum > out.size:
        raise ValueError(f"quorum {quorum} exceeds the {out.size} followers")
    with np.errstate(divide="ignore"):
        round_trips = append_bits / out + ack_bits / back
    return float(np.partition(round_trips, quorum - 1)[quorum - 1])


# ----------------------------------------------------------------------------- execution, queueing
def execution_latency(cycles: float, capacity_hz: FloatArray | float) -> FloatArray:
    """Seconds to run ``cycles`` on a node of ``capacity_hz`` cycles per second."""
    return np.asarray(cycles / np.asarray(capacity_hz, dtype=np.float64), dtype=np.float64)


def queueing_delay(backlog_cycles: FloatArray | float, capacity_hz: FloatArray | float) -> FloatArray:
    """Seconds a new task waits behind ``backlog_cycles`` of queued work (FIFO, one CPU)."""
    return np.asarray(
        np.asarray(backlog_cycles, dtype=np.float64) / np.asarray(capacity_hz, dtype=np.float64),
        dtype=np.float64,
    )


def drain_backlog(backlog_cycles: FloatArray, capacity_hz: FloatArray, elapsed_s: float) -> FloatArray:
    """The backlog left after ``elapsed_s`` seconds of work: max(0, w - ι t)."""
    return np.maximum(0.0, backlog_cycles - capacity_hz * elapsed_s)


# ----------------------------------------------------------------------------- whole cluster
def distance_matrix(positions_m: FloatArray, *, min_distance_m: float) -> FloatArray:
    """Pairwise distances d(l,f) in metres, floored at ``min_distance_m``; the diagonal is 0."""
    diff = positions_m[:, None, :] - positions_m[None, :, :]
    dist = np.maximum(np.sqrt((diff**2).sum(axis=-1)), min_distance_m)
    np.fill_diagonal(dist, 0.0)
    return np.asarray(dist, dtype=np.float64)


def link_rate_matrix(
    *,
    distance_m: FloatArray,
    shadowing_db: FloatArray,
    bandwidth_hz: float,
    transmit_power_w: float,
    path_loss_exponent: float,
    noise_psd_w_per_hz: float,
) -> FloatArray:
    """R(l,f) for every ordered pair (eq. 3 and 4) in bit/s; the diagonal is 0 (no self-link)."""
    n = distance_m.shape[0]
    if n < 2:
        return np.zeros((n, n), dtype=np.float64)
    d = distance_m.copy()
    np.fill_diagonal(d, 1.0)
    rho = snr(
        transmit_power_w=transmit_power_w,
        distance_m=d,
        path_loss_exponent=path_loss_exponent,
        shadowing=shadowing_gain(shadowing_db),
        bandwidth_hz=bandwidth_hz,
        noise_psd_w_per_hz=noise_psd_w_per_hz,
    )
    rates = link_rate(bandwidth_hz, n - 1, rho)
    np.fill_diagonal(rates, 0.0)
    return rates


def consensus_latencies(link_bps: FloatArray, *, append_bits: float, ack_bits: float) -> FloatArray:
    """Eq. 5 for every node as the leader, from the matrix ``link_bps[l, f]`` = R(l,f)."""
    n = link_bps.shape[0]
    quorum = quorum_followers(n)
    if quorum == 0:
        return np.zeros(n, dtype=np.float64)
    with np.errstate(divide="ignore"):
        trips = append_bits / link_bps + ack_bits / link_bps.T
    np.fill_diagonal(trips, np.inf)  # a leader is not its own follower
    return np.asarray(np.partition(trips, quorum - 1, axis=1)[:, quorum - 1], dtype=np.float64)


@dataclass(frozen=True, eq=False)
class LatencyTerms:
    """The five latency terms for every candidate node (arrays of length N), in seconds."""

    migration_s: FloatArray
    queueing_s: FloatArray
    execution_s: FloatArray
    block_s: FloatArray
    consensus_s: FloatArray

    @property
    def total_s(self) -> FloatArray:
        return np.asarray(
            self.migration_s + self.queueing_s + self.execution_s + self.block_s + self.consensus_s,
            dtype=np.float64,
        )

    def for_node(self, node: int) -> dict[str, float]:
        """The terms of one node as plain floats (for records and ``info``)."""
        return {
            "migration_s": float(self.migration_s[node]),
            "queueing_s": float(self.queueing_s[node]),
            "execution_s": float(self.execution_s[node]),
            "block_s": float(self.block_s[node]),
            "consensus_s": float(self.consensus_s[node]),
            "total_s": float(self.total_s[node]),
        }


def node_latencies(
    *,
    items: int,
    item_bits: float,
    cycles: float,
    capacity_hz: FloatArray,
    backlog_cycles: FloatArray,
    backhaul_bps: FloatArray,
    block_cycles: float,
    consensus_s: FloatArray,
) -> LatencyTerms:
    """Every term of the total latency of one task for each candidate executor."""
    return LatencyTerms(
        migration_s=np.asarray(items * item_bits / backhaul_bps, dtype=np.float64),
        queueing_s=queueing_delay(backlog_cycles, capacity_hz),
        execution_s=execution_latency(cycles, capacity_hz),
        block_s=np.asarray(block_cycles / capacity_hz, dtype=np.float64),
        consensus_s=consensus_s,
    )


def reward(latency_s: float, deadline_s: float, penalty_s: float) -> float:
    """The agent's reward for one task: -latency, minus ``penalty_s`` if the deadline was missed."""
    return -latency_s - (penalty_s if latency_s > deadline_s else 0.0)
