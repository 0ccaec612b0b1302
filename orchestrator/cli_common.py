"""What every ``mecfab`` sub-command shares: consoles, error mapping, common options."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from orchestrator import network as net
from orchestrator.errors import MecFabError

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
T = TypeVar("T")

TopologyOpt = Annotated[
    Path | None, typer.Option("--topology", "-t", help="Topology file (default network/topology.yaml).")
]
EdgesOpt = Annotated[
    int | None, typer.Option("--edges", min=1, max=32, help="Number of edge orgs (overrides the topology).")
]
OrderersOpt = Annotated[int | None, typer.Option("--orderers", help="Raft orderers: 3 or 5 (overrides the topology).")]
ConsensusOpt = Annotated[
    str | None, typer.Option("--consensus", help="etcdraft (Raft, default) or bft (Fabric 3 SmartBFT, 4 orderers).")
]
VersionOpt = Annotated[
    str | None,
    typer.Option("--fabric-version", envvar="FABRIC_VERSION", help="Fabric version: 3.1.1 (default) or 2.5.0."),
]
TargetOpt = Annotated[
    str,
    typer.Option(
        "--target",
        envvar="MECFAB_TARGET",
        help="compose (one machine) or swarm (a Docker Swarm stack, project mecfab-swarm; see README).",
    ),
]
PinOrgsOpt = Annotated[
    bool,
    typer.Option("--pin-orgs", help="swarm: run each org's services only on nodes labelled mecfab.org=<org>."),
]
PublishOpt = Annotated[
    str,
    typer.Option("--publish", help="swarm: publish ports in host mode (the task's node) or ingress mode (every node)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def run(fn: Callable[[], T]) -> T:
    """Call library code; a MecFabError becomes one red line and its exit code."""
    try:
        return fn()
    except MecFabError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


def fail(message: str) -> NoReturn:
    """Bad input found by the CLI itself: one red line, exit code 2 (as ConfigError)."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(2)


def spec(
    topology: Path | None = None,
    edges: int | None = None,
    orderers: int | None = None,
    version: str | None = None,
    consensus: str | None = None,
    *,
    target: str | None = None,
    pin_orgs: bool = False,
    publish: str = "host",
) -> net.NetworkSpec:
    """The network a command acts on; ``$MECFAB_TARGET=swarm`` points every command (task, audit, ...)
    at the swarm network."""
    target = target or os.environ.get("MECFAB_TARGET") or "compose"
    if publish not in ("host", "ingress"):
        fail(f"unknown publish mode {publish!r}: use host or ingress")
    return run(
        lambda: net.NetworkSpec.default(
            topology_file=topology,
            edges=edges,
            orderers=orderers,
            version=version,
            consensus=consensus,
            target=target,
            pin_orgs=pin_orgs,
            publish="ingress" if publish == "ingress" else "host",
        )
    )


def progress(message: str) -> None:
    console.print(f"[cyan]==>[/] {message}", highlight=False)


def emit_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str))
