"""The smoke benchmark against the live network: worker processes, grpc.aio clients, the resource sampler,
then the report. Checks the results folder: record counts, summary fields, figures and the HTML."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from orchestrator.bench.config import load_config
from orchestrator.bench.layout import FILES
from orchestrator.bench.runner import run_benchmark
from orchestrator.network import NetworkSpec
from orchestrator.report import build_report, load_results
from orchestrator.topology import REPO_ROOT

pytestmark = pytest.mark.integration

SMOKE = REPO_ROOT / "benchmarks" / "smoke.yaml"


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources += [v for k, v in attrs if k == "src" and v]


@pytest.fixture(scope="module")
def smoke_results(live_network: NetworkSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bench") / "smoke"
    run_benchmark(load_config(SMOKE), live_network, folder, config_source=SMOKE)
    build_report(folder)
    return folder


def test_every_transaction_of_the_smoke_benchmark_is_recorded_and_succeeds(smoke_results: Path) -> None:
    config = load_config(SMOKE)
    results = load_results(smoke_results)
    expected = {r.label: r.tx_count for r in config.rounds}
    counts = results.records.groupby("round").size().to_dict()
    assert counts == expected
    assert set(results.records["status"]) <= {"valid", "ok"}, results.records["error"].unique()
    writes = results.records[results.records["kind"] == "submit"]
    assert (writes["validation"] == "VALID").all()
    assert (writes["block"] > 0).all()
    assert (writes["start"] < writes["endorsed"]).all() and (writes["submitted"] <= writes["end"]).all()
    assert results.records["tx_id"].str.len().eq(64).all() and results.records["tx_id"].is_unique


def test_the_results_folder_holds_facts_resources_and_fabric_metrics(
    smoke_results: Path, live_network: NetworkSpec
) -> None:
    meta = json.loads((smoke_results / FILES.meta).read_text())
    assert meta["fabric_version"] == live_network.fabric_version
    assert meta["fabric_version_reported"] == live_network.fabric_version
    assert meta["complete"] is True and meta["git"]["commit"]
    assert meta["host"]["cpu_count"] >= 1 and meta["host"]["grpcio"]
    assert meta["sampler"]["ticks"] >= 3
    results = load_results(smoke_results)
    roles = set(results.resources["role"])
    assert {"peer", "orderer", "chaincode", "host", "loadgen"} <= roles
    assert set(results.fabric_metrics) == {r.label for r in load_config(SMOKE).rounds}


def test_the_summary_has_the_papers_metrics_and_the_report_shows_its_figures(smoke_results: Path) -> None:
    summary = json.loads((smoke_results / FILES.summary).read_text())
    by_label = {r["label"]: r for r in summary["rounds"]}
    write = by_label["write-20tps"]
    assert write["kind"] == "submit" and write["failed"] == 0
    assert write["send_rate_tps"] == pytest.approx(20, rel=0.1)
    assert 0 < write["throughput_tps"] <= 21
    assert 0 < write["latency_s"]["p50"] <= write["latency_s"]["p99"] < 10
    assert all(write["phases_s"][p]["avg"] > 0 for p in ("endorse", "order", "commit"))
    assert write["resources"]["roles"]["peer"]["mem_mb_avg"] > 0
    assert write["loadgen"]["cpu_ms_per_tx"] > 0
    assert write["fabric"]["raft_leader"]
    assert by_label["write-load-8"]["closed_loop"] is True
    read = by_label["read-50tps"]
    assert read["kind"] == "evaluate" and read["succeeded"] == read["sent"]
    assert read["latency_s"]["avg"] < write["latency_s"]["avg"]
    parser = _Images()
    parser.feed((smoke_results / FILES.report).read_text())
    assert len(parser.sources) == 5
    for src in parser.sources:
        image = smoke_results / src
        assert image.is_file() and image.stat().st_size > 5_000, src


def test_the_report_renders_in_a_headless_browser_with_every_image_loaded(smoke_results: Path, tmp_path: Path) -> None:
    """Chromium (Debian's, installed by `make test`) loads the report; a probe script counts images that decoded."""
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is missing: `make test` installs it (network/scripts/setup-host.sh --browser)"
    page = smoke_results / "report-probe.html"
    probe = (
        "<script>window.addEventListener('load', () => {"
        "const imgs = [...document.images];"
        "const ok = imgs.filter(i => i.complete && i.naturalWidth > 0).length;"
        "document.body.setAttribute('data-probe', `images=${imgs.length} loaded=${ok}`);});</script>"
    )
    page.write_text((smoke_results / FILES.report).read_text().replace("</body>", probe + "</body>"))
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    import re

    match = re.search(r'data-probe="images=(\d+) loaded=(\d+)"', dom)
    assert match, "the page did not finish loading in the browser"
    images, loaded = map(int, match.groups())
    assert images >= 5 and loaded == images
