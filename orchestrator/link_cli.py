"""``mecfab link``: emulated edge links on the running network (show, set, clear, probe)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from orchestrator.cli_common import JsonOpt, console, emit_json, out, run
from orchestrator.cli_common import spec as spec_of
from orchestrator.errors import ConfigError
from orchestrator.links.probe import ProbeResult, probe
from orchestrator.links.settings import (
    Link,
    LinkSpec,
    format_rate,
    load_profile,
    parse_duration_ms,
    parse_percent,
    parse_rate_mbit,
    profiles,
    validate_link,
)

link_app = typer.Typer(
    help="Emulated edge links (delay, jitter, loss, rate) on the running network.", no_args_is_help=True
)

EdgeArg = Annotated[str, typer.Argument(help="Edge org, e.g. Edge3.")]


def _rate(link: Link) -> str:
    return "unlimited" if link.rate_bps is None else format_rate(link.rate_bps)


@link_app.command("show")
def link_show(as_json: JsonOpt = False) -> None:
    """Each edge's link as read back from the proxies (or tc), next to what the topology asks."""
    from orchestrator.links.control import show_links

    states = run(lambda: show_links(spec_of()))
    if as_json:
        emit_json(
            [
                {
                    "org": s.org,
                    "backend": s.backend,
                    "endpoint": s.endpoint,
                    "configured": s.configured.as_dict(),
                    "applied": s.applied.as_dict(),
                }
                for s in states
            ]
        )
        return
    table = Table(title=f"edge links ({states[0].backend if states else '-'})")
    for col in ("edge", "endpoint", "delay", "jitter", "loss", "rate", "topology"):
        table.add_column(col)
    for s in states:
        a = s.applied
        table.add_row(
            s.org,
            s.endpoint,
            f"{a.delay_ms} ms",
            f"±{a.jitter_ms} ms",
            f"{a.loss_pct:g} %",
            _rate(a),
            "same" if s.configured == a else s.configured.describe(),
        )
    out.print(table)


def _requested(
    profile: str | None, delay: str | None, jitter: str | None, loss: str | None, rate: str | None
) -> LinkSpec:
    """The link asked for: the profile (if any), with each given option replacing its field.
    Every value is validated here, before the network is touched."""
    base = load_profile(profile) if profile else LinkSpec()
    data = base.model_dump(exclude_none=True)
    if delay is not None:
        data["delay_ms"] = parse_duration_ms(delay, what="--delay")
    if jitter is not None:
        data["jitter_ms"] = parse_duration_ms(jitter, what="--jitter")
    if loss is not None:
        data["loss_pct"] = parse_percent(loss, what="--loss")
    if rate is not None:
        data["rate_mbit"] = parse_rate_mbit(rate, what="--rate")
        data.pop("radio", None)
    return validate_link(data, source="the command line")


@link_app.command("set")
def link_set(
    edge: EdgeArg,
    delay: Annotated[str | None, typer.Option(help="Added round-trip delay, e.g. 40ms.")] = None,
    jitter: Annotated[str | None, typer.Option(help="± jitter on the delay, e.g. 5ms.")] = None,
    loss: Annotated[str | None, typer.Option(help="Loss, e.g. 1% (approximate with Toxiproxy).")] = None,
    rate: Annotated[str | None, typer.Option(help="Rate limit per direction, e.g. 10mbit, 500kbit.")] = None,
    profile: Annotated[
        str | None, typer.Option(help=f"Start from a profile in network/links/: {', '.join(profiles())}.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Replace an edge's link (unset values: the profile's, else none)."""
    from orchestrator.links.control import set_links

    def apply() -> dict[str, Link]:
        if not any(v is not None for v in (delay, jitter, loss, rate, profile)):
            raise ConfigError("say what to set: --delay, --jitter, --loss, --rate or --profile (or use 'link clear')")
        link = _requested(profile, delay, jitter, loss, rate).resolve()
        return set_links(spec_of(), {edge: link})

    applied = run(apply)
    if as_json:
        emit_json({org: link.as_dict() for org, link in applied.items()})
        return
    for org, link in applied.items():
        console.print(f"[green]link of {org}[/]: {link.describe()}", highlight=False)


@link_app.command("clear")
def link_clear(edges: Annotated[list[str], typer.Argument(help="Edge orgs, e.g. Edge3 Edge4.")]) -> None:
    """Remove every emulation from the edges' links."""
    from orchestrator.links.control import clear_links

    applied = run(lambda: clear_links(spec_of(), edges))
    for org in applied:
        console.print(f"[green]link of {org} cleared[/]", highlight=False)


@link_app.command("probe")
def link_probe(
    edge: EdgeArg,
    samples: Annotated[int, typer.Option(min=1, max=1000, help="Round trips to time.")] = 11,
    megabytes: Annotated[float, typer.Option(min=0, help="Bulk transfer for the rate (0: skip).")] = 2.0,
    as_json: JsonOpt = False,
) -> None:
    """Measure an edge's link through its proxy: echo round trips and bulk throughput."""
    from orchestrator.links.control import backend_for, edge_node

    def measure() -> tuple[str, ProbeResult]:
        spec = spec_of()
        node = edge_node(spec, edge)
        if backend_for(spec).name != "toxiproxy":
            raise ConfigError("the probe runs through the link proxy: it needs links.backend: toxiproxy")
        nbytes = int(megabytes * 1e6) or None
        return node.org.name, probe(spec.topology.ports.bind, node.probe_port, samples=samples, nbytes=nbytes)

    org, result = run(measure)
    if as_json:
        emit_json({"org": org, **dataclasses.asdict(result), "rtt_median_ms": result.rtt_median_ms})
        return
    rate = result.throughput_bps
    out.print(
        f"{org}: round trip median {result.rtt_median_ms:.1f} ms "
        f"(min {min(result.rtt_ms):.1f}, max {max(result.rtt_ms):.1f}), "
        f"throughput {'-' if rate is None else format_rate(rate)}",
        highlight=False,
    )


def _numbers(text: str | None, *, what: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ConfigError(f"{what} {text!r} is not a comma-separated list of numbers") from None
    if not values or any(v < 0 for v in values):
        raise ConfigError(f"{what} {text!r} must list numbers >= 0")
    return values


def validate_model(
    quick: Annotated[bool, typer.Option("--quick", help="A small grid that runs in a few minutes.")] = False,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Results folder.")] = None,
    edges: Annotated[str | None, typer.Option(help="Edge counts N, e.g. 2,4,8.")] = None,
    delays: Annotated[str | None, typer.Option(help="Link delays [ms], e.g. 0,20,50.")] = None,
    rates: Annotated[str | None, typer.Option(help="Link rates [Mbit/s], e.g. 2,10,50.")] = None,
    transactions: Annotated[int | None, typer.Option(min=2, max=1000, help="Transactions per point.")] = None,
    project_prefix: Annotated[str, typer.Option(help="Compose project name prefix.")] = "mecfab-validate",
    port_base: Annotated[int, typer.Option(min=1024, max=31000, help="First host port to try.")] = 20000,
) -> None:
    """Eqs. 2 and 5 of the latency model against live Fabric over a grid of link delays, rates and N:
    writes points.csv (predicted, measured, error), transactions.csv, summary.json and a plot."""
    from orchestrator.cli_common import progress
    from orchestrator.links.validate import FULL, QUICK, Grid, PointResult, run_validation

    def go() -> tuple[Path, list[PointResult]]:
        base = QUICK if quick else FULL
        ns = _numbers(edges, what="--edges")
        ds = _numbers(delays, what="--delays")
        rs = _numbers(rates, what="--rates")
        if ns is not None and any(n < 1 or n > 32 or n != int(n) for n in ns):
            raise ConfigError(f"--edges {edges!r} must be whole numbers from 1 to 32")
        if rs is not None and any(r == 0 for r in rs):
            raise ConfigError(f"--rates {rates!r}: a rate must be above zero")
        grid = Grid(
            edges=tuple(int(n) for n in ns) if ns else base.edges,
            delays_ms=tuple(int(d) for d in ds) if ds else base.delays_ms,
            rates_mbit=rs or base.rates_mbit,
            transactions=transactions or base.transactions,
        )
        folder = out_dir or Path("results") / "validate-model" / time.strftime("%Y%m%d-%H%M%S")
        return folder, list(
            run_validation(grid, out_dir=folder, project_prefix=project_prefix, port_base=port_base, progress=progress)
        )

    folder, results = run(go)
    table = Table(title=f"latency model vs live Fabric ({folder})")
    for col in ("N", "delay", "rate", "block", "measured", "eqs 2+5", "err", "+fabric terms", "err"):
        table.add_column(col)
    for r in results:
        d = dataclasses.asdict(r)
        table.add_row(
            str(d["edges"]),
            f"{d['delay_ms']} ms",
            f"{d['rate_mbit']:g} Mbit/s",
            f"{d['block_bytes']:.0f} B",
            f"{d['measured_median_ms']:.1f} ms",
            f"{d['predicted_model_ms']:.1f} ms",
            f"{d['error_model_pct']:+.0f} %",
            f"{d['predicted_fabric_ms']:.1f} ms",
            f"{d['error_fabric_pct']:+.0f} %",
        )
    out.print(table)
