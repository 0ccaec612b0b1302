"""``mecfab``: the command line. Only parses, calls the library and prints."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.table import Table

from orchestrator import network as net
from orchestrator.agent_cli import agent_app, monitor_app, run_app
from orchestrator.bench_cli import bench_app
from orchestrator.chaos_cli import chaos_app
from orchestrator.cli_common import (
    ConsensusOpt,
    EdgesOpt,
    JsonOpt,
    OrderersOpt,
    PinOrgsOpt,
    PublishOpt,
    TargetOpt,
    TopologyOpt,
    VersionOpt,
    console,
    emit_json,
    fail,
    out,
    progress,
    run,
)
from orchestrator.cli_common import spec as spec_of
from orchestrator.link_cli import link_app, validate_model
from orchestrator.membership_cli import edge_app, orderer_app
from orchestrator.sim_cli import sim_app
from orchestrator.task_cli import task_app

app = typer.Typer(
    help="mec-fabric: a real Hyperledger Fabric testbed for task sharing between MEC edge servers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
network_app = typer.Typer(help="Bring the Fabric network up, inspect it, take it down.", no_args_is_help=True)
app.add_typer(network_app, name="network")
app.add_typer(task_app, name="task", help="The task lifecycle on the ledger: request, shortlist, offer, award, ...")
app.add_typer(bench_app, name="bench", help="Caliper-style benchmarks: rate-controlled load, metrics, reports.")


def _compose_only() -> None:
    """Commands that start or stop compose services act on the compose network only."""
    if os.environ.get("MECFAB_TARGET") == "swarm":
        fail("this command needs the compose network: unset MECFAB_TARGET (the swarm target has network, task, audit)")


app.add_typer(
    chaos_app,
    name="chaos",
    help="Faults under load (orderer kills, peer restarts, partitions) and their cost.",
    callback=_compose_only,
)
app.add_typer(sim_app, name="sim", help="Latency model and DDPG executor selection (second paper), no Docker.")
app.add_typer(
    edge_app, name="edge", help="Edge orgs on the running network: add, remove, revoke.", callback=_compose_only
)
app.add_typer(
    orderer_app, name="orderer", help="Raft orderers on the running network: add, remove.", callback=_compose_only
)
app.add_typer(agent_app, name="agent", help="Run an edge server's agent (offers, executes, requests, settles).")
app.add_typer(monitor_app, name="monitor", help="The cloud monitor: live edge view, shortlists by a selection policy.")
app.command("validate-model")(validate_model)
app.add_typer(
    link_app,
    name="link",
    help="Emulated edge links: show, set (delay, jitter, loss, rate), clear, probe.",
    callback=_compose_only,
)
app.add_typer(
    run_app,
    name="run",
    help="Whole task-sharing runs with agents and monitor; mobility and fault demos.",
    callback=_compose_only,
)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )


# ---- network -----------------------------------------------------------------------------------
@network_app.command("up")
def network_up(
    topology: TopologyOpt = None,
    edges: EdgesOpt = None,
    orderers: OrderersOpt = None,
    consensus: ConsensusOpt = None,
    fabric_version: VersionOpt = None,
    target: TargetOpt = "compose",
    pin_orgs: PinOrgsOpt = False,
    publish: PublishOpt = "host",
) -> None:
    """Start orderers, peers and chaincode servers, create the channel and deploy the chaincode."""
    spec = spec_of(
        topology, edges, orderers, fabric_version, consensus, target=target, pin_orgs=pin_orgs, publish=publish
    )
    start = time.monotonic()
    run(lambda: net.up(spec, progress=progress))
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
    target: TargetOpt = "compose",
) -> None:
    """Remove every container, network and volume of the network, and its generated files."""
    spec = spec_of(topology, edges, orderers, None, target=target)
    run(lambda: net.down(spec, progress=progress, keep_state=keep_state))
    console.print("[green]network removed[/]")


@network_app.command("render")
def network_render(
    topology: TopologyOpt = None,
    edges: EdgesOpt = None,
    orderers: OrderersOpt = None,
    consensus: ConsensusOpt = None,
    fabric_version: VersionOpt = None,
    target: TargetOpt = "compose",
    pin_orgs: PinOrgsOpt = False,
    publish: PublishOpt = "host",
    as_json: JsonOpt = False,
) -> None:
    """Render crypto config, configtx.yaml, the compose file (or swarm stack) and the chaincode package (no Docker)."""
    spec = spec_of(
        topology, edges, orderers, fabric_version, consensus, target=target, pin_orgs=pin_orgs, publish=publish
    )
    paths = run(lambda: net.render(spec))
    if as_json:
        emit_json({"files": [str(p) for p in paths], "package_id": spec.package_id})
        return
    for path in paths:
        out.print(str(path), highlight=False)


@network_app.command("status")
def network_status(
    topology: TopologyOpt = None,
    edges: EdgesOpt = None,
    orderers: OrderersOpt = None,
    target: TargetOpt = "compose",
    as_json: JsonOpt = False,
) -> None:
    """Each node's container, health, ledger height and the Raft leader; the committed chaincode."""
    spec = spec_of(topology, edges, orderers, None, target=target)
    st = run(lambda: net.status(spec))
    if as_json:
        emit_json(dataclasses.asdict(st) | {"leaders": st.leaders})
        return
    if all(n.container == "missing" for n in st.nodes):
        how = "mecfab network up --target swarm" if spec.target == "swarm" else "make up"
        out.print(f"network {st.project!r} is not running: start it with '{how}'")
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


@app.command("audit")
def audit_ledger(
    org: Annotated[str, typer.Option("--org", help="Org whose peer serves the blocks.")] = "Cloud",
    as_json: JsonOpt = False,
) -> None:
    """Walk every block and check the ledger's invariants; exit 1 on any violation."""
    from orchestrator.audit import audit

    report = run(lambda: audit(spec_of(), org=org))
    if as_json:
        emit_json(dataclasses.asdict(report) | {"ok": report.ok})
    else:
        out.print(
            f"{report.peer}: {report.height} blocks, {report.transactions} transactions ({report.valid} valid), "
            f"{report.tasks} tasks, credits {report.credits}",
            highlight=False,
        )
        for v in report.violations:
            out.print(f"[red]VIOLATION[/] {v.check}: {v.detail}", highlight=False)
        out.print("[green]audit passed[/]" if report.ok else "[red]audit failed[/]")
    if not report.ok:
        raise typer.Exit(1)


def main() -> None:  # pragma: no cover
    app(prog_name="mecfab")
    sys.exit(0)
