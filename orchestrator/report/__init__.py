"""Reports from benchmark results folders: summary JSON, PNG figures, an HTML page, and comparisons.

Reads only what ``orchestrator.bench`` wrote into a folder; never talks to the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.bench.layout import FILES
from orchestrator.errors import ConfigError
from orchestrator.report.html import compare_page, report_page
from orchestrator.report.load import Results, load_results
from orchestrator.report.plots import (
    plot_latency,
    plot_phases,
    plot_resources,
    plot_throughput,
    plot_timeline,
    series_of,
)
from orchestrator.report.summary import summarize

__all__ = ["Report", "Results", "build_report", "compare", "load_results", "summarize"]

FIGURES = {
    "latency": ("latency_vs_rate.png", "Latency vs input rate (paper Fig. 4)"),
    "throughput": ("throughput_vs_rate.png", "Throughput vs input rate"),
    "resources": ("resources_vs_rate.png", "CPU and memory per container role vs input rate (paper Fig. 5)"),
    "phases": ("phases.png", "Per-phase breakdown of writes"),
    "timeline": ("timeline.png", "Sent and finished per second"),
}


@dataclass(frozen=True)
class Report:
    """What a report wrote: the summary (as data) and the files."""

    summary: dict[str, Any]
    summary_path: Path
    html_path: Path
    images: tuple[Path, ...]


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def build_report(folder: Path) -> Report:
    """Write ``summary.json``, the PNG figures and ``report.html`` into the results folder."""
    results = load_results(folder)
    summary = summarize(results)
    series = series_of(summary)
    images = [
        plot_latency(series, folder / FIGURES["latency"][0]),
        plot_throughput(series, folder / FIGURES["throughput"][0]),
        plot_resources(series, folder / FIGURES["resources"][0]),
        plot_phases(summary["rounds"], folder / FIGURES["phases"][0]),
        plot_timeline(results.records, results.rounds, folder / FIGURES["timeline"][0]),
    ]
    summary_path = folder / FILES.summary
    _write_json(summary_path, summary)
    html_path = folder / FILES.report
    captions = [(name, caption) for name, caption in FIGURES.values()]
    html_path.write_text(report_page(summary, results.config, captions))
    return Report(summary=summary, summary_path=summary_path, html_path=html_path, images=tuple(images))


def _label(summary: dict[str, Any]) -> str:
    return f"{summary['name']} (Fabric {summary.get('fabric_version', '?')}, {summary.get('consensus', '?')})"


def _pairs(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Rounds of A and B matched by label (else by workload and input rate)."""
    by_label = {r["label"]: r for r in b["rounds"]}
    by_rate = {(r["workload"], round(float(r["input_rate_tps"] or 0), 3)): r for r in b["rounds"]}
    pairs = []
    for ra in a["rounds"]:
        rb = by_label.get(ra["label"]) or by_rate.get((ra["workload"], round(float(ra["input_rate_tps"] or 0), 3)))
        if rb is not None:
            pairs.append((ra, rb))
    return pairs


def compare(folder_a: Path, folder_b: Path, out: Path) -> Report:
    """Overlay two results folders (e.g. Fabric 3.1.1 vs 2.5.0): figures, a matched-round table, compare.html."""
    if out.resolve() in (folder_a.resolve(), folder_b.resolve()):
        raise ConfigError("write the comparison to its own folder, not into one of the results folders")
    a = summarize(load_results(folder_a))
    b = summarize(load_results(folder_b))
    out.mkdir(parents=True, exist_ok=True)
    va, vb = a.get("fabric_version"), b.get("fabric_version")
    ca, cb = a.get("consensus"), b.get("consensus")
    tag_a, tag_b = ("A: ", "B: ")
    if va != vb or ca != cb:
        tag_a, tag_b = (f"A {ca if ca != cb else va}: ", f"B {cb if ca != cb else vb}: ")
    series = series_of(a, prefix=tag_a) + series_of(b, prefix=tag_b)
    title = f"A = {_label(a)} vs B = {_label(b)}"
    images = [
        plot_latency(series, out / FIGURES["latency"][0], title=f"Latency vs input rate\n{title}"),
        plot_throughput(series, out / FIGURES["throughput"][0], title=f"Throughput vs input rate\n{title}"),
        plot_resources(series, out / FIGURES["resources"][0], title=f"CPU and memory per role\n{title}"),
    ]
    pairs = _pairs(a, b)
    summary = {
        "a": {
            "folder": str(folder_a),
            "name": a["name"],
            "fabric_version": va,
            "consensus": ca,
            "overall": a["overall"],
        },
        "b": {
            "folder": str(folder_b),
            "name": b["name"],
            "fabric_version": vb,
            "consensus": cb,
            "overall": b["overall"],
        },
        "rounds": [
            {
                "label": ra["label"],
                "input_rate_tps": ra["input_rate_tps"],
                "throughput_tps": [ra["throughput_tps"], rb["throughput_tps"]],
                "latency_avg_s": [ra["latency_s"]["avg"], rb["latency_s"]["avg"]],
                "latency_p99_s": [ra["latency_s"]["p99"], rb["latency_s"]["p99"]],
            }
            for ra, rb in pairs
        ],
    }
    summary_path = out / "compare.json"
    _write_json(summary_path, summary)
    html_path = out / "compare.html"
    captions = [
        (p.name, FIGURES[key][1]) for p, key in zip(images, ("latency", "throughput", "resources"), strict=True)
    ]
    html_path.write_text(compare_page(a, b, pairs, captions, label=_label))
    return Report(summary=summary, summary_path=summary_path, html_path=html_path, images=tuple(images))
