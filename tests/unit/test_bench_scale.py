"""The scale benchmark's pure parts: edge-count parsing, summaries, CSV, Markdown, the results folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator.bench.scale import (
    PORT_LIMIT,
    ContainerSample,
    ScaleRun,
    max_edges,
    parse_edges,
    role_summary,
    summarize,
    summary_markdown,
    write_memory_csv,
    write_results,
    write_times_csv,
)
from orchestrator.cli import app
from orchestrator.errors import ConfigError


def _run(edges: int, *, peer_mb: float = 70.0, error: str | None = None) -> ScaleRun:
    containers = [ContainerSample(f"orderer{i}.orderer.mec", "orderer", 16.0 + i, 0.3) for i in (1, 2, 3)]
    containers.append(ContainerSample("peer0.cloud.mec", "peer", peer_mb, 2.0))
    containers.append(ContainerSample("cc.cloud.mec", "chaincode", 12.0, 0.0))
    for i in range(1, edges + 1):
        containers.append(ContainerSample(f"peer0.edge{i}.mec", "peer", peer_mb + i, 3.0))
        containers.append(ContainerSample(f"cc.edge{i}.mec", "chaincode", 12.0, 0.0))
    steps = {"artifacts": 0.5, "containers": 4.0, "healthy": 0.5, "orderers": 1.0, "peers": 1.0 * edges}
    steps |= {"chaincode": 2.0, "ready": 3.0}
    return ScaleRun(
        edges=edges,
        project=f"mecfab-scale-{edges}e",
        steps_s=steps,
        containers=containers,
        down_s=2.0,
        loadavg_start=(1.5, 2.0, 2.5),
        loadavg_idle=(3.0, 2.5, 2.0),
        host_mem_used_mb=500.0,
        error=error,
    )


# ---- arguments -----------------------------------------------------------------------------------
def test_parse_edges_sorts_and_dedups() -> None:
    assert parse_edges("16, 4,8,4") == [4, 8, 16]
    assert parse_edges("1") == [1]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "--edges 0: an edge count must be 1..32"),
        ("-3", "--edges -3: an edge count must be 1..32"),
        ("4,33", "--edges 33: an edge count must be 1..32 (a topology holds at most 32 edges)"),
        ("4,x", "'x' is not a whole number"),
        ("", "'' is not a whole number"),
    ],
)
def test_parse_edges_rejects(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"^--edges") as info:
        parse_edges(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_the_port_block_limits_edges() -> None:
    # Edge N sits in slot 3 + N (3 orderers, then Cloud); its highest port is base + 10*slot + 3
    base = 31700
    n = max_edges(base)
    assert base + 10 * (3 + n) + 3 < PORT_LIMIT <= base + 10 * (3 + n + 1) + 3
    assert parse_edges(str(n), port_base=base) == [n]
    with pytest.raises(ConfigError, match=f"must be 1..{n} \\(ports from {base} must stay below {PORT_LIMIT}\\)"):
        parse_edges(str(n + 1), port_base=base)
    assert max_edges(24000) == 32  # the topology's own limit
    assert max_edges(31700, orderers=5) == max_edges(31700, orderers=3) - 2


def test_a_port_base_without_room_is_one_error() -> None:
    with pytest.raises(ConfigError, match="leaves no room below port 32000"):
        parse_edges("1", port_base=31990)
    with pytest.raises(ConfigError, match="1024"):
        parse_edges("1", port_base=80)


@pytest.mark.parametrize("edges", ["0", "99", "4,,8"])
def test_cli_bad_edges_is_one_line_and_exit_2(edges: str) -> None:
    result = CliRunner().invoke(app, ["bench", "scale", "--edges", edges])
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --edges"), result.output


# ---- summaries ---------------------------------------------------------------------------------
def test_role_summary() -> None:
    roles = role_summary(_run(4).containers)
    assert set(roles) == {"orderer", "peer", "chaincode"}
    assert roles["peer"]["count"] == 5
    assert roles["peer"]["mem_mb_min"] == 70.0 and roles["peer"]["mem_mb_max"] == 74.0
    assert roles["peer"]["mem_mb_mean"] == pytest.approx(72.0)
    assert roles["peer"]["mem_mb_total"] == pytest.approx(360.0)
    assert roles["orderer"]["mem_mb_mean"] == pytest.approx(18.0)
    assert roles["chaincode"]["cpu_pct_mean"] == 0.0
    assert role_summary([]) == {}


def test_summarize() -> None:
    runs = [_run(4), _run(8, error="NetworkError: timed out")]
    summary = summarize(runs, meta={"fabric_version": "3.1.1"})
    assert summary["fabric_version"] == "3.1.1"
    assert summary["ok"] is False
    first = summary["runs"][0]
    assert first["edges"] == 4
    assert first["up_s"] == pytest.approx(0.5 + 4 + 0.5 + 1 + 4 + 2 + 3)
    assert first["containers"] == 3 + 5 + 5
    assert first["mem_mb_total"] == pytest.approx(sum(c.mem_mb for c in runs[0].containers), abs=0.1)
    assert first["roles"]["peer"]["count"] == 5
    assert first["loadavg_start"] == (1.5, 2.0, 2.5)
    assert summary["runs"][1]["error"] == "NetworkError: timed out"
    json.dumps(summary)  # serializable as is


def test_a_failed_run_without_steps_still_summarizes() -> None:
    run = ScaleRun(edges=16, project="p", error="EnvironmentProblem: port busy")
    row = summarize([run])["runs"][0]
    assert row["up_s"] is None and row["containers"] == 0 and row["roles"] == {}
    text = summary_markdown(summarize([run]))
    assert "16 edges: EnvironmentProblem: port busy" in text


# ---- files -------------------------------------------------------------------------------------
def test_times_csv(tmp_path: Path) -> None:
    path = write_times_csv(tmp_path / "times.csv", [_run(4), _run(8)])
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 14
    four = [r for r in rows if r["edges"] == "4"]
    assert [r["step"] for r in four] == [
        "artifacts",
        "containers",
        "healthy",
        "orderers",
        "peers",
        "chaincode",
        "ready",
    ]
    assert float(four[-1]["cumulative_s"]) == pytest.approx(_run(4).up_s)


def test_memory_csv(tmp_path: Path) -> None:
    path = write_memory_csv(tmp_path / "memory.csv", [_run(2)])
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 3 + 3 + 3
    assert {r["role"] for r in rows} == {"orderer", "peer", "chaincode"}
    peer = next(r for r in rows if r["service"] == "peer0.edge2.mec")
    assert float(peer["mem_mb"]) == 72.0 and float(peer["cpu_pct"]) == 3.0


def test_summary_markdown() -> None:
    text = summary_markdown(summarize([_run(4), _run(16)], meta={"fabric_version": "3.1.1", "orderers": 3}))
    assert "| 4 | **15.0** |" in text
    assert "| 16 | **27.0** |" in text
    assert "peer MB/container" in text and "(×17)" in text
    assert "1.5 / 2.0 / 2.5" in text


def test_write_results(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    summary = write_results(folder, [_run(4), _run(8)], meta={"fabric_version": "3.1.1", "orderers": 3})
    for name in ("times.csv", "memory.csv", "runs.json", "summary.md", "summary.json", "scale.png"):
        assert (folder / name).is_file(), name
        assert name in summary["files"]
    assert (folder / "scale.png").stat().st_size > 10_000
    on_disk = json.loads((folder / "summary.json").read_text())
    assert on_disk["runs"][1]["edges"] == 8
    assert json.loads((folder / "runs.json").read_text())[0]["containers"][0]["role"] == "orderer"
