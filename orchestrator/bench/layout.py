"""The results folder's file names: the one place both the writer (bench) and the reader (report) take them from."""

from __future__ import annotations

__all__ = ["FILES"]


class FILES:
    """File names inside a results folder."""

    config = "config.yaml"  # the resolved benchmark config (defaults filled in)
    meta = "meta.json"  # Fabric version, git commit, host facts, network, load generator, timing
    rounds = "rounds.json"  # per round: label, workload, rate, start/end, each worker's CPU and counters
    records_csv = "records.csv"  # one row per transaction ...
    records_parquet = "records.parquet"  # ... or the same as parquet
    resources = "resources.csv"  # docker stats per container, host CPU, load generator CPU, per tick
    fabric_metrics = "fabric-metrics.json"  # Prometheus samples of every node before and after each round
    summary = "summary.json"  # written by the report
    report = "report.html"  # written by the report
