"""``mecfab task``: the task lifecycle of the chaincode, one command per transaction."""

from __future__ import annotations

import dataclasses
import hashlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from orchestrator.cli_common import JsonOpt, emit_json, fail, out, progress, run, spec
from orchestrator.errors import LedgerError
from orchestrator.gateway import SubmitResult
from orchestrator.ledger import Ledger
from orchestrator.sealing import seal, unseal
from orchestrator.topology import OrgKind

task_app = typer.Typer(no_args_is_help=True)

OrgOpt = Annotated[str, typer.Option("--org", help="The org acting (its User1 signs, its peer is the gateway).")]
TaskArg = Annotated[str, typer.Argument(help="Task ID.")]
PayloadOpt = Annotated[
    Path | None, typer.Option("--payload", help="File sent as private payload (transient data, never an argument).")
]


def _ledger_call(org: str, fn: Callable[[Ledger], Any]) -> Any:
    def call() -> Any:
        with Ledger.connect(spec(), org) as ledger:
            return fn(ledger)

    return run(call)


def _report(result: SubmitResult, what: str, as_json: bool, **extra: Any) -> None:
    data = {
        **extra,
        "tx_id": result.tx_id,
        "block": result.block_number,
        "timings_ms": {k.removesuffix("_s"): round(v * 1000, 2) for k, v in dataclasses.asdict(result.timings).items()},
    }
    if as_json:
        emit_json(data)
        return
    phases = ", ".join(f"{k} {v} ms" for k, v in data["timings_ms"].items())
    out.print(f"{what}: tx {result.tx_id} in block {result.block_number} ({phases})", highlight=False)


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


def _sealed(ledger: Ledger, task_id: str, content: bytes | None) -> bytes | None:
    """The payload as the task was requested with it, salt included (read from the requester's own
    collection: the salt is nowhere else), once checked to hold ``content``."""
    if content is None:
        return None
    stored = ledger.read_payload(task_id)
    if unseal(stored) != content:
        raise LedgerError(f"the payload given is not the one task {task_id} was requested with")
    return stored


@task_app.command("request")
@task_app.command("submit", hidden=True)
def request(
    org: OrgOpt = "Edge1",
    task_id: Annotated[str | None, typer.Option("--id", help="Task ID (default: a random one).")] = None,
    cycles: Annotated[int, typer.Option(min=1, help="CPU cycles the task needs.")] = 2_000_000_000,
    input_bytes: Annotated[
        int | None, typer.Option(min=1, help="Input size in bytes (default: the payload's).")
    ] = None,
    deadline: Annotated[int, typer.Option(min=1, help="Seconds from now until the deadline.")] = 120,
    max_price: Annotated[int, typer.Option(min=1, help="Most the requester pays, in credits.")] = 100,
    payload: PayloadOpt = None,
    delegate: Annotated[bool, typer.Option(help="Let the Cloud award on the requester's behalf.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ask for a task as an edge (registers the edge first if needed). Alias: `task submit`."""
    topology = spec().topology
    found = run(lambda: topology.org(org))
    if found.kind is not OrgKind.EDGE:
        fail(f"{found.name} is not an edge org: tasks are requested by edges (Edge1, Edge2, ...)")
    if task_id is not None and not task_id.strip():
        fail("--id is empty: give a task ID or leave --id out for a random one")
    if task_id is not None and not task_id.isprintable():
        fail(f"--id {task_id!r} has characters that cannot be part of a task ID")
    tid = task_id or f"t-{uuid.uuid4().hex[:12]}"
    data = _read(payload) or f"payload of {tid}".encode()
    sealed = seal(data)  # the public hash covers a random salt: it confirms no guess of the file

    def call(ledger: Ledger) -> SubmitResult:
        if not ledger.edge_registered(found.msp_id):
            progress(f"registering {found.name} as an edge server")
            ledger.register_edge(cpu_cycles_per_sec=2_000_000_000, memory_mb=2048, price_per_gigacycle=1)
        return ledger.request_task(
            tid,
            cpu_cycles=cycles,
            input_bytes=input_bytes or len(data),
            deadline_unix=int(time.time()) + deadline,
            max_price=max_price,
            payload_hash=hashlib.sha256(sealed).hexdigest(),
            payload=sealed,
            delegate_award=delegate,
        )

    _report(_ledger_call(found.name, call), f"task {tid} requested", as_json, task_id=tid)


@task_app.command("shortlist")
def shortlist(
    task_id: TaskArg,
    candidates: Annotated[list[str], typer.Argument(help="Candidate orgs (MSP IDs or names).")],
    as_json: JsonOpt = False,
) -> None:
    """As the Cloud: post the shortlist of candidate executors."""
    topology = spec().topology
    msps = [run(lambda c=c: topology.org(c)).msp_id for c in candidates]  # type: ignore[misc]
    _report(_ledger_call("Cloud", lambda lg: lg.shortlist(task_id, msps)), f"task {task_id} shortlisted", as_json)


@task_app.command("offer")
def offer(
    task_id: TaskArg,
    org: OrgOpt,
    price: Annotated[int, typer.Option(min=0, help="Asked price in credits.")] = 10,
    seconds: Annotated[int, typer.Option(min=0, help="Estimated completion time.")] = 10,
    decline: Annotated[bool, typer.Option(help="Say not willing instead of offering.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """As a shortlisted edge: offer to execute (or decline)."""
    res = _ledger_call(org, lambda lg: lg.offer(task_id, willing=not decline, price=price, estimated_seconds=seconds))
    _report(res, f"{org} {'declined' if decline else 'offered'} on {task_id}", as_json)


@task_app.command("award")
def award(
    task_id: TaskArg,
    executor: Annotated[str, typer.Argument(help="The chosen executor org.")],
    org: OrgOpt = "Edge1",
    payload: PayloadOpt = None,
    price: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="The price you accept; the award is refused if the executor's committed offer differs."
            " Default: its current offer, as read just before the award.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """As the requester (with --payload) or the Cloud (delegated): sign the contract with an executor."""
    msp = run(lambda: spec().topology.org(executor)).msp_id
    data = _read(payload)

    def call(lg: Ledger) -> SubmitResult:
        accepted = price if price is not None else int(lg.current_offer(task_id, msp).get("price", 0))
        return lg.award(task_id, msp, accepted, payload=_sealed(lg, task_id, data))

    _report(_ledger_call(org, call), f"task {task_id} awarded", as_json)


@task_app.command("result")
def result(
    task_id: TaskArg,
    org: OrgOpt,
    file: Annotated[Path, typer.Option("--file", help="The result, sent privately to the requester.")],
    as_json: JsonOpt = False,
) -> None:
    """As the executor: submit the result (hash public, content private)."""
    data = seal(_read(file) or b"")  # a fresh salt: the public result hash confirms no guess
    _report(_ledger_call(org, lambda lg: lg.submit_result(task_id, data)), f"result of {task_id} submitted", as_json)


def _simple(name: str, doc: str, call: Callable[[Ledger, str], SubmitResult], default_org: str) -> None:
    def command(task_id: TaskArg, org: OrgOpt = default_org, as_json: JsonOpt = False) -> None:
        _report(_ledger_call(org, lambda lg: call(lg, task_id)), f"{name} {task_id}", as_json)

    command.__doc__ = doc
    task_app.command(name)(command)


_simple("settle", "As the requester: accept the result; the escrow pays the executor.", Ledger.settle, "Edge1")


@task_app.command("accept")
def accept(
    task_id: TaskArg,
    org: OrgOpt = "Edge2",
    max_escrow: Annotated[
        int,
        typer.Option(
            min=0,
            help="The most escrow you agree to pay the old owner (an awarded task holds its price in"
            " escrow); the transfer is refused if the task holds more.",
        ),
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """As the proposed new owner: accept a task's requester role."""
    res = _ledger_call(org, lambda lg: lg.accept_ownership(task_id, max_escrow=max_escrow))
    _report(res, f"accept {task_id}", as_json)


@task_app.command("expire")
def expire(
    task_id: TaskArg,
    org: OrgOpt = "Cloud",
    without_executor: Annotated[
        bool,
        typer.Option(
            "--without-executor",
            help="An awarded task: endorse with the requester's and the Cloud's peers instead of the"
            " executor's (its org revoked or removed, or its peer down).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """After the deadline without a result: return the escrow (the requester, the executor or the Cloud)."""
    res = _ledger_call(org, lambda lg: lg.expire(task_id, without_executor=without_executor))
    _report(res, f"expire {task_id}", as_json)


@task_app.command("dispute")
def dispute(task_id: TaskArg, reason: str, org: OrgOpt = "Edge1", as_json: JsonOpt = False) -> None:
    """As the requester: dispute the result within the dispute window (the escrow is split)."""
    _report(_ledger_call(org, lambda lg: lg.dispute(task_id, reason)), f"task {task_id} disputed", as_json)


@task_app.command("reassign")
def reassign(task_id: TaskArg, org: OrgOpt = "Edge1", deadline: int = 120, as_json: JsonOpt = False) -> None:
    """As the requester: reopen an expired task with a new deadline (seconds from now)."""
    when = int(time.time()) + deadline
    _report(_ledger_call(org, lambda lg: lg.reassign(task_id, deadline_unix=when)), f"task {task_id} reopened", as_json)


@task_app.command("transfer")
def transfer(
    task_id: TaskArg,
    new_owner: Annotated[str, typer.Argument(help="The edge taking over the requester role.")],
    org: OrgOpt = "Edge1",
    payload: PayloadOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """As the requester: propose that another edge takes over the task (it then runs `task accept`)."""
    msp = run(lambda: spec().topology.org(new_owner)).msp_id
    data = _read(payload)
    res = _ledger_call(org, lambda lg: lg.transfer_ownership(task_id, msp, payload=_sealed(lg, task_id, data)))
    _report(res, f"transfer of {task_id} to {msp} proposed", as_json)


@task_app.command("show")
def show(
    task_id: TaskArg,
    org: Annotated[str, typer.Option("--org", help="Org whose peer answers.")] = "Cloud",
    history: Annotated[bool, typer.Option("--history", help="Also list every committed version.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Read a task (and its history) from the ledger."""

    def read(lg: Ledger) -> dict[str, Any]:
        return {"task": lg.read_task(task_id), "history": lg.task_history(task_id) if history else None}

    data = _ledger_call(org, read)
    if as_json:
        emit_json(data if history else data["task"])
        return
    for key, value in data["task"].items():
        out.print(f"{key:>17}: {value}", highlight=False)
    if history:
        table = Table(title=f"history of {task_id}")
        for col in ("time", "status", "tx"):
            table.add_column(col)
        for h in data["history"]:
            value = h.get("value") or {}
            table.add_row(
                time.strftime("%H:%M:%S", time.gmtime(h["timestamp"])), value.get("status", "-"), h["txId"][:16]
            )
        out.print(table)


@task_app.command("list")
def list_tasks(
    status: Annotated[str | None, typer.Option(help="Only tasks in this state, e.g. AWARDED.")] = None,
    by_org: Annotated[str | None, typer.Option("--for", help="Only tasks involving this org.")] = None,
    org: Annotated[str, typer.Option("--org", help="Org whose peer answers.")] = "Cloud",
    as_json: JsonOpt = False,
) -> None:
    """List tasks by state or by org (composite-key indexes)."""
    if (status is None) == (by_org is None):
        fail("give exactly one of --status or --for")
    topology = spec().topology

    def read(lg: Ledger) -> list[dict[str, Any]]:
        if status is not None:
            return lg.tasks_by_status(status.upper())
        return lg.tasks_by_org(topology.org(by_org or "").msp_id)

    tasks = _ledger_call(org, read)
    if as_json:
        emit_json(tasks)
        return
    for t in tasks:
        out.print(
            f"{t['taskId']:<24} {t['status']:<12} requester {t['requester']:<10} executor {t.get('executor') or '-'}"
        )


@task_app.command("balance")
def balance(edge: Annotated[str, typer.Argument(help="Edge org.")], as_json: JsonOpt = False) -> None:
    """An edge's credit balance and reputation."""
    msp = run(lambda: spec().topology.org(edge)).msp_id
    data = _ledger_call("Cloud", lambda lg: lg.balance(msp))
    if as_json:
        emit_json(data)
    else:
        out.print(f"{msp}: balance {data['balance']}, reputation {data['reputation']}")
