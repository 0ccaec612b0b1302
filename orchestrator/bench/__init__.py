"""Caliper-style benchmarks of the live network: rate controllers, workloads, worker processes,
per-transaction records, resource sampling and the results folder.

``orchestrator.bench`` writes results folders; ``orchestrator.report`` reads them.
"""

from orchestrator.bench.config import BenchConfig, RoundSpec, load_config, parse_config
from orchestrator.bench.rates import RATE_CONTROLLERS, RateController
from orchestrator.bench.records import TxRecord, TxStatus
from orchestrator.bench.workloads import WORKLOADS, Workload

__all__ = [
    "RATE_CONTROLLERS",
    "WORKLOADS",
    "BenchConfig",
    "RateController",
    "RoundSpec",
    "TxRecord",
    "TxStatus",
    "Workload",
    "load_config",
    "parse_config",
]
