"""Read a results folder written by ``orchestrator.bench`` (and nothing else: no network, no Docker)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from orchestrator.bench.layout import FILES
from orchestrator.errors import ConfigError

__all__ = ["FILES", "Results", "load_results"]


RECORD_DTYPES: dict[str, str] = {
    "round": "string",
    "worker": "int64",
    "seq": "int64",
    "org": "string",
    "kind": "string",
    "function": "string",
    "tx_id": "string",
    "scheduled": "float64",
    "start": "float64",
    "endorsed": "float64",
    "submitted": "float64",
    "end": "float64",
    "status": "string",
    "validation_code": "int64",
    "validation": "string",
    "block": "int64",
    "error": "string",
}


@dataclass(frozen=True)
class Results:
    """Everything in one results folder."""

    folder: Path
    config: dict[str, Any]
    meta: dict[str, Any]
    rounds: list[dict[str, Any]]
    records: pd.DataFrame
    resources: pd.DataFrame
    fabric_metrics: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.folder.name)

    @property
    def fabric_version(self) -> str:
        return str(self.meta.get("fabric_version_reported") or self.meta.get("fabric_version") or "?")

    @property
    def consensus(self) -> str:
        topology = (self.meta.get("network") or {}).get("topology") or {}
        return str(topology.get("consensus") or "?")


def _json(path: Path, default: Any) -> Any:
    if not path.exists():
        return default
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None


def _records(folder: Path) -> pd.DataFrame:
    parquet, csv = folder / FILES.records_parquet, folder / FILES.records_csv
    if parquet.exists():
        frame = pd.read_parquet(parquet)
    elif csv.exists():
        frame = pd.read_csv(
            csv,
            keep_default_na=False,
            na_values={c: [""] for c in ("scheduled", "start", "endorsed", "submitted", "end")},
        )
    else:
        raise ConfigError(f"{folder} holds no records ({FILES.records_csv} or {FILES.records_parquet})")
    missing = [c for c in RECORD_DTYPES if c not in frame.columns]
    if missing:
        raise ConfigError(f"{folder}: the records lack column(s) {', '.join(missing)}")
    for column in ("scheduled", "start", "endorsed", "submitted", "end"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in ("round", "org", "kind", "function", "tx_id", "status", "validation", "error"):
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def load_results(folder: Path) -> Results:
    """Load a results folder; a ConfigError says what is missing."""
    if not folder.is_dir():
        raise ConfigError(f"results folder {folder} does not exist")
    meta_path = folder / FILES.meta
    if not meta_path.exists():
        raise ConfigError(f"{folder} is not a benchmark results folder (no {FILES.meta})")
    rounds = _json(folder / FILES.rounds, [])
    if not rounds:
        raise ConfigError(f"{folder} has no finished round ({FILES.rounds} is missing or empty)")
    config_path = folder / FILES.config
    config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
    resources_path = folder / FILES.resources
    resources = pd.read_csv(resources_path, keep_default_na=False) if resources_path.exists() else pd.DataFrame()
    return Results(
        folder=folder,
        config=config or {},
        meta=_json(meta_path, {}),
        rounds=list(rounds),
        records=_records(folder),
        resources=resources,
        fabric_metrics=_json(folder / FILES.fabric_metrics, {}),
    )
