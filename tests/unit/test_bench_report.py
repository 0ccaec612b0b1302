"""Reports from a synthetic results folder: summary JSON, PNGs, HTML whose images exist, compare, the CLI,
and the Caliper export."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from orchestrator.bench.caliper import export_caliper
from orchestrator.bench.config import load_config
from orchestrator.bench.layout import FILES
from orchestrator.bench_cli import bench_app
from orchestrator.errors import ConfigError
from orchestrator.network import NetworkSpec
from orchestrator.report import build_report, compare, load_results
from orchestrator.topology import REPO_ROOT, load_topology

from .test_bench_fixtures import results_folder

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources += [v for k, v in attrs if k == "src" and v]


def _images_of(html: Path) -> list[Path]:
    parser = _Images()
    parser.feed(html.read_text())
    return [html.parent / src for src in parser.sources]


def test_a_report_writes_summary_figures_and_html_whose_images_exist(tmp_path: Path) -> None:
    folder = results_folder(tmp_path / "run")
    report = build_report(folder)
    summary = json.loads((folder / FILES.summary).read_text())
    assert summary == json.loads(json.dumps(report.summary, default=str))
    assert [r["label"] for r in summary["rounds"]] == ["write-10", "write-20", "write-40", "read-50"]
    first = summary["rounds"][0]
    for key in (
        "throughput_tps",
        "send_rate_tps",
        "input_rate_tps",
        "succeeded",
        "failed",
        "latency_s",
        "phases_s",
        "resources",
        "loadgen",
        "fabric",
        "findings",
    ):
        assert key in first, key
    for key in ("min", "avg", "max", "p50", "p95", "p99"):
        assert first["latency_s"][key] is not None
    assert first["fabric"]["peers"]["peer0.edge1.mec"]["blocks"] == 10
    assert first["fabric"]["peers"]["peer0.edge1.mec"]["endorse_s"] == pytest.approx(0.004)
    assert first["fabric"]["raft_leader"] == "orderer1.orderer.mec"
    saturated = summary["rounds"][2]
    assert saturated["statuses"] == {"invalid": 2, "valid": 38}
    assert summary["overall"]["sent"] == 170 and summary["overall"]["failed"] == 3
    assert summary["fabric_version"] == "3.1.1"

    images = _images_of(report.html_path)
    assert len(images) == 5
    for image in images:
        assert image.is_file(), image
        assert image.read_bytes().startswith(PNG_MAGIC)
        assert image.stat().st_size > 5_000
    html = report.html_path.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "write-40" in html and "Throughput" in html and "0123456789ab" in html


def test_records_as_parquet_or_csv_load_the_same(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    folder = results_folder(tmp_path / "run")
    frame = load_results(folder).records
    frame.to_parquet(folder / FILES.records_parquet, index=False)
    (folder / FILES.records_csv).unlink()
    again = load_results(folder).records
    assert len(again) == len(frame)
    assert list(again["status"]) == list(frame["status"])


def test_loading_something_that_is_not_a_results_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_results(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a benchmark results folder"):
        load_results(tmp_path / "empty")


def test_compare_overlays_two_folders(tmp_path: Path) -> None:
    a = results_folder(tmp_path / "a", version="3.1.1")
    b = results_folder(tmp_path / "b", version="2.5.0", slow=1.5)
    report = compare(a, b, tmp_path / "cmp")
    assert report.html_path.name == "compare.html"
    for image in _images_of(report.html_path):
        assert image.is_file() and image.read_bytes().startswith(PNG_MAGIC)
    rounds = report.summary["rounds"]
    assert [r["label"] for r in rounds] == ["write-10", "write-20", "write-40", "read-50"]
    lat_a, lat_b = rounds[0]["latency_avg_s"]
    assert lat_b == pytest.approx(lat_a * 1.5)
    html = report.html_path.read_text()
    assert "3.1.1" in html and "2.5.0" in html
    with pytest.raises(ConfigError, match="its own folder"):
        compare(a, b, a)


def test_cli_report_and_compare(tmp_path: Path) -> None:
    a = results_folder(tmp_path / "a")
    b = results_folder(tmp_path / "b", version="2.5.0")
    runner = CliRunner()
    result = runner.invoke(bench_app, ["report", str(a), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["overall"]["succeeded"] == 167
    assert Path(data["report"]).is_file()
    result = runner.invoke(bench_app, ["compare", str(a), str(b), "--out", str(tmp_path / "c"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["b"]["fabric_version"] == "2.5.0"
    result = runner.invoke(bench_app, ["report", str(tmp_path / "nope")])
    assert result.exit_code == ConfigError.exit_code
    assert "does not exist" in result.output


def test_cli_run_rejects_a_bad_config_before_touching_the_network(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nrounds:\n  - {label: a, tx_count: 1, rate: {type: fixed-rate, tps: -1}, workload: list-edges}\n"
    )
    result = CliRunner().invoke(bench_app, ["run", str(bad)])
    assert result.exit_code == ConfigError.exit_code
    assert "rounds.0.rate.tps" in result.output


def test_export_caliper_writes_a_workspace_for_the_same_workload(tmp_path: Path) -> None:
    spec = NetworkSpec.isolated(tmp_path / "net", project="mecfab-x", topology=load_topology())
    config = load_config(REPO_ROOT / "benchmarks" / "read-write.yaml")
    files = export_caliper(config, spec, tmp_path / "cal")
    names = {f.relative_to(tmp_path / "cal").as_posix() for f in files}
    assert {
        "networks/mecfab.yaml",
        "benchmarks/read-write.yaml",
        "README.md",
        "workloads/request-task.js",
        "workloads/read-task.js",
        "workloads/list-edges.js",
    } <= names
    network = yaml.safe_load((tmp_path / "cal/networks/mecfab.yaml").read_text())
    assert network["version"] == "2.0.0" and network["caliper"]["blockchain"] == "fabric"
    assert [o["mspid"] for o in network["organizations"]] == ["Edge1MSP", "Edge2MSP", "Edge3MSP", "Edge4MSP"]
    profile = yaml.safe_load((tmp_path / "cal/networks/connection-edge1.yaml").read_text())
    assert profile["peers"]["peer0.edge1.mec"]["url"] == "grpcs://127.0.0.1:7040"
    bench = yaml.safe_load((tmp_path / "cal/benchmarks/read-write.yaml").read_text())["test"]
    assert bench["workers"]["number"] == config.workers
    by_label = {r["label"]: r for r in bench["rounds"]}
    assert by_label["write-100"]["rateControl"] == {"type": "fixed-rate", "opts": {"tps": 100.0}}
    assert by_label["write-100"]["txNumber"] == 1000
    assert by_label["write-ramp"]["rateControl"]["opts"] == {"startingTps": 50.0, "finishingTps": 250.0}
    assert by_label["write-ramp"]["txDuration"] == 15
    assert by_label["write-load-64"]["rateControl"]["opts"]["transactionLoad"] == 64
    assert by_label["write-max"]["rateControl"]["type"] == "maximum-rate"
    js = (tmp_path / "cal/workloads/request-task.js").read_text()
    assert "'RequestTask'" in js and "createWorkloadModule" in js and "RegisterEdge" in js
    assert re.search(r"module\.exports\.createWorkloadModule", js)
