"""``mecfab``: the command line. Only parses, calls the library and prints."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from orchestrator import network as net
from orchestrator.errors import ConfigError, MecFabError
from orchestrator.sim_cli import sim_app
from orchestrator.topology import Org, OrgKind

app = typer.Typer(
    help="mec-fabric: a real Hyperledger Fabric testbed for task sharing between MEC edge servers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
network_app = typer.Typer(help="Bring the Fabric network up, inspect it, take it down.", no_args_is_help=True)
task_app = typer.Typer(help="Record and read tasks on the ledger.", no_args_is_help=True)
app.add_typer(network_app, name="network")
app.add_typer(task_app, name="task")
app.add_typer(sim_app, name="sim", help="Latency model and DDPG executor selection (second paper), no Docker.")

console = Console(stderr=True, soft_wrap=True)
out = Console()
T = TypeVar("T")

TopologyOpt = Annotated[
    Path | None, typer.Option("--topology", "-t", help="Topology file (default network/topology.yaml).")
]
EdgesOpt = Annotated[
    int | None, typer.Option("--edges", min=1, max=32, help="Number of edge orgs (overrides the topology).")
]
OrderersOpt = Annotated[int | None, typer.Option("--orderers", help="Raft orderers: 3 or 5 (overrides the topology).")]
VersionOpt = Annotated[
    str | None,
    typer.Option("--fabric-version", envvar="FABRIC_VERSION", help="Fabric version: 3.1.1 (default) or 2.5.0."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )


def _run(fn: Callable[[], T]) -> T:
    """Call library code; a MecFabError becomes one red line and its exit code."""
    try:
        return fn()
    except MecFabError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


def _spec(topology: Path | None, edges: int | None, orderers: int | None, version: str | None) -> net.NetworkSpec:
    return _run(
        lambda: net.NetworkSpec.default(topology_file=topology, edges=edges, orderers=orderers, version=version)
    )


def _progress(message: str) -> None:
    console.print(f"[cyan]==>[/] {message}", highlight=False)


def _emit_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))


# ---- network -----------------------------------------------------------------------------------
@network_app.command("up")
def network_up(
    topology: TopologyOpt = None,
    edges: EdgesOpt = None,
    orderers: OrderersOpt = None,
    fabric_version: VersionOpt = None,
) -> None:
    """Start orderers, peers and chaincode servers, create the channel and deploy the chaincode."""
    spec = _spec(topology, edges, orderers, fabric_version)
    start = time.monotonic()
    _run(lambda: net.up(spec, progress=_progress))
    console.print(
        f"[green]network {spec.project!r} ready[/] in {time.monotonic() - start:.1f} s "
        f"(Fabric {spec.fabric_version}); see 'mecfab network status'"
    )


@network_app.command("down")
def network_down(
    topology: TopologyOpt = None,
    edges: EdgesOpt = None,
    orderers: OrderersOpt = None,
    keep_state: Annotated[bool, typer.Option(help="Keep crypto material and rendered files.")] = False,
) -> None:
    """Remove every container, network and volume of the network, and its generated files."""
    spec = _spec(topology, edges, orderers, None)
    _run(lambda: net.down(spec, progress=_progress, keep_state=keep_state))
    console.print("[green]network removed[/]")


@network_app.command("render")
def network_render(
    topology: TopologyOpt = None,
    edges: EdgesOpt = None,
    orderers: OrderersOpt = None,
    fabric_version: VersionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Render crypto config, configtx.yaml, the compose file and the chaincode package (no Docker)."""
    spec = _spec(topology, edges, orderers, fabric_version)
    paths = _run(lambda: net.render(spec))
    if as_json:
        _emit_json({"files": [str(p) for p in paths], "package_id": spec.package_id})
        return
    for path in paths:
        out.print(str(path), highlight=False)


@network_app.command("status")
def network_status(
    topology: TopologyOpt = None, edges: EdgesOpt = None, orderers: OrderersOpt = None, as_json: JsonOpt = False
) -> None:
    """Each node's container, health, ledger height and the Raft leader; the committed chaincode."""
    spec = _spec(topology, edges, orderers, None)
    st = _run(lambda: net.status(spec))
    if as_json:
        _emit_json(dataclasses.asdict(st) | {"leaders": st.leaders})
        return
    if all(n.container == "missing" for n in st.nodes):
        out.print(f"network {st.project!r} is not running: start it with 'make up'")
        raise typer.Exit(1)
    table = Table(title=f"network {st.project} · channel {st.channel} · Fabric {st.fabric_version}")
    for col in ("node", "role", "org", "container", "health", "height", "raft"):
        table.add_column(col)
    for n in st.nodes:
        health = "[green]ok[/]" if n.healthy else f"[red]{n.health_detail}[/]"
        raft = "" if n.leader is None else ("[bold]leader[/]" if n.leader else "follower")
        table.add_row(n.host, n.role, n.org, n.container, health, "-" if n.height is None else str(n.height), raft)
    out.print(table)
    cc = st.chaincode
    if cc:
        out.print(
            f"chaincode {spec.topology.chaincode.name}: committed, version {cc.get('version')}, "
            f"sequence {cc.get('sequence')}"
        )
    else:
        out.print(f"chaincode {spec.topology.chaincode.name}: [yellow]not committed[/]")


# ---- tasks -------------------------------------------------------------------------------------
@task_app.command("submit")
def task_submit(
    org: Annotated[str, typer.Option("--org", help="Requesting edge org, e.g. Edge1.")] = "Edge1",
    task_id: Annotated[str | None, typer.Option("--id", help="Task ID (default: a random one).")] = None,
    cycles: Annotated[int, typer.Option(min=1, help="CPU cycles the task needs.")] = 2_000_000_000,
    input_bytes: Annotated[int, typer.Option(min=1, help="Input data size in bytes.")] = 1_000_000,
    deadline: Annotated[int, typer.Option(min=1, help="Seconds from now until the deadline.")] = 60,
    max_price: Annotated[int, typer.Option(min=1, help="Most the requester pays, in credits.")] = 10,
    payload: Annotated[Path | None, typer.Option(help="File whose SHA-256 is recorded as the payload hash.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a task request on the ledger as an edge (registering the edge first if needed)."""
    from orchestrator.ledger import Ledger

    spec = _spec(None, None, None, None)

    def edge_org() -> Org:
        found = spec.topology.org(org)
        if found.kind is not OrgKind.EDGE:
            raise ConfigError(f"{found.name} is not an edge org: tasks are requested by edges (Edge1, Edge2, ...)")
        return found

    org_obj = _run(edge_org)
    tid = task_id or f"t-{uuid.uuid4().hex[:12]}"
    data = payload.read_bytes() if payload else tid.encode()
    digest = hashlib.sha256(data).hexdigest()

    def submit() -> dict[str, Any]:
        with Ledger.connect(spec, org_obj.name) as ledger:
            if not ledger.edge_registered(org_obj.msp_id):
                _progress(f"registering {org_obj.name} as an edge server")
                ledger.register_edge(cpu_cycles_per_sec=2_000_000_000, memory_mb=2048, price_per_gigacycle=1)
            res = ledger.request_task(
                tid,
                cpu_cycles=cycles,
                input_bytes=input_bytes,
                deadline_unix=int(time.time()) + deadline,
                max_price=max_price,
                payload_hash=digest,
            )
            return {
                "task_id": tid,
                "tx_id": res.tx_id,
                "block": res.block_number,
                "timings_ms": {
                    k.removesuffix("_s"): round(v * 1000, 2) for k, v in dataclasses.asdict(res.timings).items()
                },
            }

    result = _run(submit)
    if as_json:
        _emit_json(result)
        return
    t = result["timings_ms"]
    out.print(
        f"task {result['task_id']} recorded: tx {result['tx_id']} in block {result['block']} "
        f"({', '.join(f'{k} {v} ms' for k, v in t.items())})",
        highlight=False,
    )


@task_app.command("show")
def task_show(
    task_id: Annotated[str, typer.Argument(help="Task ID.")],
    org: Annotated[str, typer.Option("--org", help="Org whose peer answers.")] = "Cloud",
    as_json: JsonOpt = False,
) -> None:
    """Read a task from the ledger through an org's peer."""
    from orchestrator.ledger import Ledger

    spec = _spec(None, None, None, None)

    def read() -> dict[str, Any]:
        with Ledger.connect(spec, org) as ledger:
            return ledger.read_task(task_id)

    task = _run(read)
    if as_json:
        _emit_json(task)
    else:
        for key, value in task.items():
            out.print(f"{key:>14}: {value}", highlight=False)


def main() -> None:  # pragma: no cover
    app(prog_name="mecfab")
    sys.exit(0)
