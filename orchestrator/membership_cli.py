"""``mecfab edge`` and ``mecfab orderer``: membership changes of the running network."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Annotated

import typer

from orchestrator import membership
from orchestrator.cli_common import JsonOpt, emit_json, out, progress, run, spec

edge_app = typer.Typer(
    no_args_is_help=True,
    help="Edge orgs on the running network: add, remove, revoke (channel config updates).",
)
orderer_app = typer.Typer(
    no_args_is_help=True,
    help="The Raft orderer set of the running network: add or remove a consenter.",
)

EdgeArg = Annotated[str, typer.Argument(help="Edge org name, e.g. Edge5 (or its MSP ID, Edge5MSP).")]


def _report(fn: Callable[[], membership.Change], as_json: bool) -> None:
    change = run(fn)
    if as_json:
        emit_json(dataclasses.asdict(change))
        return
    signed = f", signed by {', '.join(change.signers)}" if change.signers else ""
    out.print(
        f"{change.action} {change.target}: done in {change.seconds:.1f} s (config block {change.config_block}{signed})",
        highlight=False,
    )


@edge_app.command("add")
def edge_add(
    name: Annotated[str | None, typer.Argument(help="The new edge, e.g. Edge5 (default: the next one).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an edge org: crypto, config update (MAJORITY of org admins), peer, chaincode approval."""
    network = spec()
    edge = name or f"Edge{network.topology.edges.count + 1}"
    _report(lambda: membership.add_edge(network, edge, progress=progress), as_json)


@edge_app.command("remove")
def edge_remove(name: EdgeArg, as_json: JsonOpt = False) -> None:
    """Remove an edge org from the channel (config update), then its peer and chaincode server."""
    network = spec()
    _report(lambda: membership.remove_edge(network, name, progress=progress), as_json)


@edge_app.command("revoke")
def edge_revoke(name: EdgeArg, as_json: JsonOpt = False) -> None:
    """Revoke an edge's User1 and peer certificates: a CRL in its MSP (signed by the org's admin)."""
    network = spec()
    _report(lambda: membership.revoke_edge(network, name, progress=progress), as_json)


@orderer_app.command("add")
def orderer_add(as_json: JsonOpt = False) -> None:
    """Add the next Raft orderer: wait until every consenter is active and caught up (refused with
    the names of those that are not after the timeout), consenter config update, start it, join it
    (osnadmin)."""
    network = spec()
    _report(lambda: membership.add_orderer(network, progress=progress), as_json)


@orderer_app.command("remove")
def orderer_remove(
    name: Annotated[str, typer.Argument(help="The orderer to remove, e.g. orderer4.")], as_json: JsonOpt = False
) -> None:
    """Remove a Raft consenter: wait until the others are active and caught up (refused with the
    names of those that are not after the timeout), config update, then its container."""
    network = spec()
    _report(lambda: membership.remove_orderer(network, name, progress=progress), as_json)
