"""``mecfab bench``: run Caliper-style benchmarks, report on them, compare two runs, export for Caliper.

Thin: parses options, calls :mod:`orchestrator.bench` and :mod:`orchestrator.report`, and owns all
output (rich progress and tables, or one JSON document on stdout with ``--json``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestrator.errors import MecFabError

bench_app = typer.Typer(
    help="Caliper-style benchmarks of the live network: rate-controlled load, latency and throughput, "
    "CPU and memory per container, HTML reports, comparisons (e.g. Fabric 3.1.1 vs 2.5.0).",
    no_args_is_help=True,
)

console = Console(stderr=True, soft_wrap=True)
out = Console()
T = TypeVar("T")

DEFAULT_RESULTS = Path("results/bench")


class RecordsChoice(StrEnum):
    csv = "csv"
    parquet = "parquet"


JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
TopologyOpt = Annotated[
    Path | None, typer.Option("--topology", "-t", help="Topology file of the network (default network/topology.yaml).")
]
EdgesOpt = Annotated[int | None, typer.Option("--edges", min=1, max=32, help="Edge orgs of the network.")]
OrderersOpt = Annotated[int | None, typer.Option("--orderers", help="Raft orderers of the network: 3 or 5.")]
VersionOpt = Annotated[
    str | None, typer.Option("--fabric-version", envvar="FABRIC_VERSION", help="Fabric version the network runs.")
]


def _run(fn: Callable[[], T]) -> T:
    """Call library code; a MecFabError becomes one red line and its exit code."""
    try:
        return fn()
    except MecFabError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


def _spec(topology: Path | None, edges: int | None, orderers: int | None, version: str | None) -> Any:
    from orchestrator.network import NetworkSpec

    return _run(lambda: NetworkSpec.default(topology_file=topology, edges=edges, orderers=orderers, version=version))


def _f(value: Any, digits: int = 1, scale: float = 1.0) -> str:
    return "-" if value is None else f"{float(value) * scale:,.{digits}f}"


def _rounds_table(summary: dict[str, Any]) -> Table:
    table = Table(title=f"{summary['name']} · Fabric {summary.get('fabric_version')}")
    for col in (
        "round",
        "input tx/s",
        "send tx/s",
        "throughput",
        "ok",
        "failed",
        "avg ms",
        "p50 ms",
        "p99 ms",
        "peer CPU %",
        "peer MB",
        "gen ms/tx",
    ):
        table.add_column(col, justify="left" if col == "round" else "right")
    for r in summary["rounds"]:
        lat = r["latency_s"]
        peer = (r.get("resources") or {}).get("roles", {}).get("peer") or {}
        table.add_row(
            str(r["label"]),
            _f(r["input_rate_tps"]),
            _f(r["send_rate_tps"]),
            _f(r["throughput_tps"]),
            str(r["succeeded"]),
            str(r["failed"]) if not r["failed"] else f"[red]{r['failed']}[/]",
            _f(lat["avg"], 1, 1000),
            _f(lat["p50"], 1, 1000),
            _f(lat["p99"], 1, 1000),
            _f(peer.get("cpu_pct_avg")),
            _f(peer.get("mem_mb_avg")),
            _f(r["loadgen"]["cpu_ms_per_tx"], 2),
        )
    return table


def _print_summary(summary: dict[str, Any], html: Path) -> None:
    out.print(_rounds_table(summary))
    for finding in summary.get("findings") or []:
        console.print(f"[yellow]warning:[/] {finding}", highlight=False)
    overall = summary["overall"]
    console.print(
        f"[green]report[/] {html} · max write throughput {_f(overall['max_write_throughput_tps'])} tx/s · "
        f"load generator {_f(overall['loadgen_cpu_ms_per_tx'], 2)} ms CPU per transaction",
        highlight=False,
    )


def _brief(summary: dict[str, Any], html: Path) -> dict[str, Any]:
    return {
        "folder": summary["folder"],
        "report": str(html),
        "fabric_version": summary.get("fabric_version"),
        "overall": summary["overall"],
        "findings": summary.get("findings") or [],
        "rounds": [
            {
                k: r[k]
                for k in (
                    "label",
                    "workload",
                    "input_rate_tps",
                    "send_rate_tps",
                    "throughput_tps",
                    "sent",
                    "succeeded",
                    "failed",
                    "latency_s",
                )
            }
            | {"loadgen_cpu_ms_per_tx": r["loadgen"]["cpu_ms_per_tx"]}
            for r in summary["rounds"]
        ],
    }


def _emit_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


@bench_app.command("run")
def bench_run(
    config: Annotated[Path, typer.Argument(help="Benchmark file, e.g. benchmarks/seed-sweep.yaml.")],
    results: Annotated[
        Path | None, typer.Option("--out", "-o", help="Results folder (default results/bench/<name>-<time>).")
    ] = None,
    records_format: Annotated[
        RecordsChoice, typer.Option("--records", help="Raw records as csv or parquet (parquet needs pyarrow).")
    ] = RecordsChoice.csv,
    report: Annotated[bool, typer.Option(help="Write summary, figures and report.html after the run.")] = True,
    topology: TopologyOpt = None,
    edges: EdgesOpt = None,
    orderers: OrderersOpt = None,
    fabric_version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a benchmark against the running network (the one 'mecfab network up' started) and report on it."""
    from orchestrator.bench.config import RoundSpec, load_config
    from orchestrator.bench.runner import RoundOutcome, RunObserver, run_benchmark

    bench = _run(lambda: load_config(config))
    spec = _spec(topology, edges, orderers, fabric_version)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = results or DEFAULT_RESULTS / f"{bench.name}-{stamp}"

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[dim]{task.fields[extra]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )

    class Observer(RunObserver):
        def __init__(self) -> None:
            self.tasks: dict[int, TaskID] = {}

        def phase(self, message: str) -> None:
            progress.console.print(f"[cyan]==>[/] {message}", highlight=False)

        def round_started(self, index: int, spec: RoundSpec, expected: int | None) -> None:
            self.tasks[index] = progress.add_task(
                f"{index + 1}/{len(bench.rounds)} {spec.label}", total=expected, extra="starting"
            )

        def round_progress(self, index: int, sent: int, done: int) -> None:
            progress.update(self.tasks[index], completed=done, extra=f"sent {sent}")

        def round_finished(self, index: int, outcome: RoundOutcome) -> None:
            rate = outcome.succeeded / outcome.wall_s if outcome.wall_s > 0 else 0.0
            progress.update(
                self.tasks[index],
                total=outcome.sent,
                completed=outcome.sent,
                extra=f"{outcome.succeeded} ok, {outcome.failed} failed, {rate:.1f}/s",
            )

        def warning(self, message: str) -> None:
            progress.console.print(f"[yellow]warning:[/] {message}", highlight=False)

    def run() -> Path:
        with progress:
            return run_benchmark(
                bench,
                spec,
                folder,
                observer=Observer(),
                config_source=config,
                records_format="parquet" if records_format is RecordsChoice.parquet else "csv",
            )

    done = _run(run)
    if not report:
        if as_json:
            _emit_json({"folder": str(done)})
        else:
            console.print(f"[green]results[/] {done}")
        return
    _report(done, as_json)


def _report(folder: Path, as_json: bool) -> None:
    from orchestrator.report import build_report

    rep = _run(lambda: build_report(folder))
    if as_json:
        _emit_json(_brief(rep.summary, rep.html_path))
    else:
        _print_summary(rep.summary, rep.html_path)


@bench_app.command("report")
def bench_report(
    folder: Annotated[Path, typer.Argument(help="A results folder written by 'mecfab bench run'.")],
    as_json: JsonOpt = False,
) -> None:
    """(Re)build summary.json, the PNG figures and report.html of a results folder (no network needed)."""
    _report(folder, as_json)


@bench_app.command("compare")
def bench_compare(
    a: Annotated[Path, typer.Argument(help="Results folder A (e.g. Fabric 3.1.1).")],
    b: Annotated[Path, typer.Argument(help="Results folder B (e.g. Fabric 2.5.0).")],
    target: Annotated[
        Path | None, typer.Option("--out", "-o", help="Where to write (default results/bench/compare-<A>-vs-<B>).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Overlay two results folders: matched rounds with the relative change, and overlaid figures."""
    from orchestrator.report import compare

    folder = target or DEFAULT_RESULTS / f"compare-{a.name}-vs-{b.name}"
    _print_compare(_run(lambda: compare(a, b, folder)), str(a), str(b), as_json)


def _print_compare(rep: Any, a: str, b: str, as_json: bool) -> None:
    if as_json:
        _emit_json(rep.summary | {"report": str(rep.html_path)})
        return
    table = Table(title=f"A = {a} vs B = {b}")
    for col in ("round", "input tx/s", "A tx/s", "B tx/s", "A avg ms", "B avg ms", "A p99 ms", "B p99 ms"):
        table.add_column(col, justify="left" if col == "round" else "right")
    for r in rep.summary["rounds"]:
        table.add_row(
            str(r["label"]),
            _f(r["input_rate_tps"]),
            _f(r["throughput_tps"][0]),
            _f(r["throughput_tps"][1]),
            _f(r["latency_avg_s"][0], 1, 1000),
            _f(r["latency_avg_s"][1], 1, 1000),
            _f(r["latency_p99_s"][0], 1, 1000),
            _f(r["latency_p99_s"][1], 1, 1000),
        )
    out.print(table)
    console.print(f"[green]comparison[/] {rep.html_path}")


@bench_app.command("consensus")
def bench_consensus(
    config: Annotated[Path, typer.Argument(help="Benchmark file run on each.")] = Path("benchmarks/consensus.yaml"),
    results: Annotated[
        Path | None, typer.Option("--out", "-o", help="Results folder (default results/bench/consensus-<time>).")
    ] = None,
    topology: TopologyOpt = None,
    edges: EdgesOpt = None,
    fabric_version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Raft vs BFT: the same benchmark on a fresh etcdraft network, then on a fresh BFT one (each
    torn down after), reported and overlaid. Your running network is not touched."""
    from orchestrator.bench.consensus import compare_consensus
    from orchestrator.topology import load_topology

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = results or DEFAULT_RESULTS / f"consensus-{stamp}"
    base = _run(lambda: load_topology(topology).with_overrides(edges=edges))

    def say(message: str) -> None:
        console.print(f"[cyan]==>[/] {message}", highlight=False)

    rep = _run(lambda: compare_consensus(config, base, folder, version=fabric_version, progress=say))
    _print_compare(rep, "etcdraft", "bft", as_json)


@bench_app.command("export-caliper")
def bench_export_caliper(
    config: Annotated[Path, typer.Argument(help="Benchmark file to translate.")] = Path("benchmarks/seed-sweep.yaml"),
    target: Annotated[Path, typer.Option("--out", "-o", help="Caliper workspace folder to write.")] = Path(
        "results/caliper"
    ),
    topology: TopologyOpt = None,
    edges: EdgesOpt = None,
    orderers: OrderersOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a Caliper network config, benchmark config and workload modules for the same workload."""
    from orchestrator.bench.caliper import export_caliper
    from orchestrator.bench.config import load_config

    bench = _run(lambda: load_config(config))
    spec = _spec(topology, edges, orderers, None)
    files = _run(lambda: export_caliper(bench, spec, target))
    if as_json:
        _emit_json({"workspace": str(target), "files": [str(f) for f in files]})
        return
    for f in files:
        out.print(str(f), highlight=False)
    console.print(f"[green]Caliper workspace[/] {target}: see {target / 'README.md'} to run it")


@bench_app.command("scale")
def bench_scale(
    edges: Annotated[
        str, typer.Option("--edges", "-e", help="Edge counts to measure, comma-separated, one network at a time.")
    ] = "4,8,16",
    target: Annotated[
        Path | None, typer.Option("--out", "-o", help="Results folder (default results/scale/<time>).")
    ] = None,
    port_base: Annotated[
        int, typer.Option("--port-base", help="First host port of the measured networks (node i: base+10*i).")
    ] = 24000,
    idle: Annotated[
        float, typer.Option("--idle", min=5, max=600, help="Seconds idle after ready before memory is sampled.")
    ] = 10.0,
    topology: TopologyOpt = None,
    fabric_version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Time 'network up' to chaincode-ready (per step) and sample idle memory per container for each
    edge count, each on a fresh isolated network that is torn down after; writes CSV, JSON, a plot
    and summary.md. Needs the images ('make images'); leaves the 'make up' network alone."""
    import shlex
    import sys

    from orchestrator.bench.scale import parse_edges, run_scale
    from orchestrator.topology import load_topology

    orderers = _run(lambda: load_topology(topology)).orderers.count
    counts = _run(lambda: parse_edges(edges, port_base=port_base, orderers=orderers))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = target or Path("results/scale") / stamp

    def progress(message: str) -> None:
        console.print(f"[cyan]==>[/] {message}", highlight=False)

    command = "mecfab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    summary = _run(
        lambda: run_scale(
            counts,
            folder,
            port_base=port_base,
            idle_s=idle,
            version=fabric_version,
            topology_file=topology,
            progress=progress,
            command=command,
        )
    )
    if as_json:
        _emit_json({k: v for k, v in summary.items() if k not in ("host", "git")})
    else:
        table = Table(
            title=f"scale-out · Fabric {summary['fabric_version']} · {summary['orderers']} orderers · seconds, MB"
        )
        steps = ("containers", "healthy", "orderers", "peers", "chaincode", "ready")
        for col in ("N", "up", "start", "health", "ord", "peers", "cc", "ready", "peer", "ord", "cc", "all", "load"):
            table.add_column(col, justify="right")
        for r in summary["runs"]:
            s, roles = r["steps_s"], r["roles"]
            table.add_row(
                str(r["edges"]),
                _f(r["up_s"]),
                *(_f(s.get(k)) for k in steps),
                *(_f((roles.get(k) or {}).get("mem_mb_mean"), 0) for k in ("peer", "orderer", "chaincode")),
                _f(r["mem_mb_total"], 0),
                _f((r["loadavg_start"] or [None])[0]),
            )
        out.print(table)
        console.print(f"[green]results[/] {folder} (summary.md, scale.png, times.csv, memory.csv)")
    if not summary["ok"]:
        failed = ", ".join(f"{r['edges']} edges: {r['error']}" for r in summary["runs"] if r["error"])
        console.print(f"[bold red]error:[/] {failed}", highlight=False)
        raise typer.Exit(4)
