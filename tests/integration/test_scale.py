"""The scale benchmark end to end at its cheapest (2 edges, about 30 s): a network of its own comes up,
is sampled idle and is torn down; the results folder has every file and real memory numbers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator import engine
from orchestrator.cli import app
from tests.integration.conftest import free_port_base

pytestmark = pytest.mark.integration


def test_scale_two_edges(tmp_path: Path) -> None:
    folder = tmp_path / "scale"
    base = free_port_base(start=24000)
    result = CliRunner().invoke(
        app, ["bench", "scale", "--edges", "2", "--out", str(folder), "--idle", "5", "--port-base", str(base), "--json"]
    )
    assert result.exit_code == 0, result.output
    for name in ("times.csv", "memory.csv", "runs.json", "summary.md", "summary.json", "scale.png"):
        assert (folder / name).is_file(), name
    summary = json.loads((folder / "summary.json").read_text())
    (run,) = summary["runs"]
    assert run["error"] is None
    assert list(run["steps_s"]) == ["artifacts", "containers", "healthy", "orderers", "peers", "chaincode", "ready"]
    assert run["up_s"] > 0
    assert {role: s["count"] for role, s in run["roles"].items()} == {"orderer": 3, "peer": 3, "chaincode": 3}
    rows = list(csv.DictReader((folder / "memory.csv").open()))
    assert len(rows) == 9 and all(float(r["mem_mb"]) > 0 for r in rows)
    # torn down: nothing of its project is left
    left = engine.project_containers(engine.connect(), run["project"])
    assert not left, [c.name for c in left]
