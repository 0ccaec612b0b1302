"""The results folder: everything a report needs, nothing it has to ask the network for.

Layout (``orchestrator.report`` reads it; ``FILES`` names each file once)::

    config.yaml          the resolved benchmark config (defaults filled in)
    meta.json            Fabric version, git commit, host facts, network, load generator, timing
    rounds.json          per round: label, workload, rate, start/end, each worker's CPU and counters
    records.csv          one row per transaction (or records.parquet)
    resources.csv        docker stats per container, host CPU, load generator CPU, per tick
    fabric-metrics.json  Prometheus samples of every node before and after each round
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
from dataclasses import asdict, fields
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

import yaml

from orchestrator.bench.layout import FILES
from orchestrator.bench.records import RECORD_FIELDS
from orchestrator.bench.sampler import ResourceSample
from orchestrator.errors import ConfigError, EnvironmentProblem

__all__ = ["FILES", "RecordsFormat", "ResultsWriter", "git_info", "host_facts"]

RecordsFormat = Literal["csv", "parquet"]


RESOURCE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ResourceSample))


def _json_dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


class ResultsWriter:
    """Writes one results folder; records are appended as rounds finish, so a crash keeps what ran."""

    def __init__(self, folder: Path, *, records_format: RecordsFormat = "csv") -> None:
        if folder.exists() and any(folder.iterdir()):
            raise ConfigError(f"results folder {folder} is not empty: choose another --out")
        if records_format == "parquet":
            import importlib.util

            if importlib.util.find_spec("pyarrow") is None:
                raise EnvironmentProblem("records as parquet need pyarrow: pip install pyarrow") from None
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.records_format = records_format
        self._records_file: IO[str] | None = None
        self._records_csv: Any = None
        self.records_written = 0

    def write_config(self, config: dict[str, Any]) -> None:
        (self.folder / FILES.config).write_text(yaml.safe_dump(config, sort_keys=False))

    def write_meta(self, meta: dict[str, Any]) -> None:
        _json_dump(self.folder / FILES.meta, meta)

    def write_rounds(self, rounds: list[dict[str, Any]]) -> None:
        _json_dump(self.folder / FILES.rounds, rounds)

    def write_fabric_metrics(self, snapshots: dict[str, Any]) -> None:
        _json_dump(self.folder / FILES.fabric_metrics, snapshots)

    def append_records(self, rows: list[tuple[object, ...]]) -> None:
        if self._records_file is None:
            self._records_file = (self.folder / FILES.records_csv).open("w", newline="")
            self._records_csv = csv.writer(self._records_file)
            self._records_csv.writerow(RECORD_FIELDS)
        self._records_csv.writerows(rows)
        self._records_file.flush()
        self.records_written += len(rows)

    def write_resources(self, samples: list[ResourceSample]) -> None:
        with (self.folder / FILES.resources).open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(RESOURCE_FIELDS)
            for s in samples:
                row = asdict(s)
                writer.writerow([round(v, 4) if isinstance(v, float) else v for v in row.values()])

    def close(self) -> None:
        """Finish the records file (converted to parquet if asked)."""
        if self._records_file is None:
            self.append_records([])
        assert self._records_file is not None
        self._records_file.close()
        if self.records_format == "parquet":
            import pandas as pd

            csv_path = self.folder / FILES.records_csv
            pd.read_csv(csv_path, keep_default_na=False, na_values=[""]).to_parquet(
                self.folder / FILES.records_parquet, index=False
            )
            csv_path.unlink()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._records_file is not None and not self._records_file.closed:
            self.close()


# ---- facts -------------------------------------------------------------------------------------
def git_info(root: Path) -> dict[str, Any]:
    """The commit the benchmark ran from, and whether the work tree had changes."""

    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": git("rev-parse", "HEAD"),
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def host_facts(docker_client: Any | None = None) -> dict[str, Any]:
    """What the numbers were measured on."""
    import grpc

    facts: dict[str, Any] = {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "kernel": platform.release(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "mem_total_gb": _mem_total_gb(),
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
    }
    if docker_client is not None:
        try:
            version = docker_client.version()
            facts["docker"] = {"version": version.get("Version"), "api": version.get("ApiVersion")}
        except Exception:
            facts["docker"] = None
    return facts
