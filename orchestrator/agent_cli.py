"""``mecfab agent``, ``mecfab monitor`` and ``mecfab run``: the live task-sharing system.

Only parses, calls the library and prints. The monitor and run commands import the policies
(numpy) when they run, so the agent container, which carries only what an agent needs, can import
this module.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table

from orchestrator.cli_common import JsonOpt, console, emit_json, fail, out, progress, run, spec
from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    from orchestrator.monitor import MonitorSnapshot
    from orchestrator.network import NetworkSpec

log = logging.getLogger(__name__)

agent_app = typer.Typer(no_args_is_help=False, pretty_exceptions_enable=False)
monitor_app = typer.Typer(no_args_is_help=False, pretty_exceptions_enable=False)
run_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


# ---- parsing helpers ----------------------------------------------------------------------------
def parse_amount(text: str, *, what: str) -> int:
    """A positive count like ``800000000``, ``8e8``, ``800M`` or ``2G``; ConfigError otherwise."""
    match = re.fullmatch(r"\s*(-?[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([kKmMgG]?)\s*", text)
    if not match:
        raise ConfigError(f"invalid {what} {text!r}: give a number like 8e8 or 800M")
    value = float(match.group(1)) * {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}[match.group(2).lower()]
    if not math.isfinite(value) or value < 1:
        raise ConfigError(f"invalid {what} {text!r}: must be at least 1")
    return int(value)


def parse_deadline(text: str, *, now: float | None = None) -> int:
    """Seconds from now until the deadline: ``90``, ``90s``, ``2m``, ``1h`` or an ISO time (local)."""
    now = time.time() if now is None else now
    relative = re.fullmatch(r"\s*(-?[0-9]+)\s*(s|m|h)?\s*", text)
    if relative:
        seconds = int(relative.group(1)) * {None: 1, "s": 1, "m": 60, "h": 3600}[relative.group(2)]
        if seconds < 1:
            raise ConfigError(f"deadline {text!r} is not in the future: give seconds from now, at least 1")
        return seconds
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"invalid deadline {text!r}: give seconds from now (90, 2m) or an ISO time") from None
    seconds = int(when.timestamp() - now)
    if seconds < 1:
        raise ConfigError(f"deadline {text} is in the past")
    return seconds


def _interrupt_on_sigterm() -> None:
    """SIGTERM stops a run like Ctrl-C does: everything it started is stopped on the way out."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _edge_org(network: NetworkSpec, name: str) -> Any:
    from orchestrator.topology import OrgKind

    org = run(lambda: network.topology.org(name))
    if org.kind is not OrgKind.EDGE:
        fail(f"{org.name} is not an edge org: use one of {', '.join(o.name for o in network.topology.edge_orgs)}")
    return org


# ---- mecfab agent -----------------------------------------------------------------------------
@agent_app.callback(invoke_without_command=True)
def agent(
    org: Annotated[str, typer.Option("--org", envvar="MECFAB_ORG", help="The edge org this agent serves.")],
    peer: Annotated[
        str | None,
        typer.Option(
            "--peer",
            envvar="MECFAB_PEER",
            help="host:port of the org's peer (in the container); default: its host port.",
        ),
    ] = None,
    tls_ca: Annotated[Path | None, typer.Option(envvar="MECFAB_TLS_CA", help="The org's TLS CA (with --peer).")] = None,
    msp_dir: Annotated[Path | None, typer.Option(envvar="MECFAB_MSP_DIR", help="User1's MSP (with --peer).")] = None,
    channel: Annotated[str, typer.Option(help="Channel (with --peer).")] = "mec",
    chaincode: Annotated[str, typer.Option(help="Chaincode (with --peer).")] = "mectask",
    listen: Annotated[str, typer.Option(envvar="MECFAB_LISTEN", help="host:port of the status endpoint.")] = (
        "127.0.0.1:0"
    ),
    cpus: Annotated[float | None, typer.Option(envvar="MECFAB_CPUS", help="CPU cores (default: topology).")] = None,
    memory_mb: Annotated[int | None, typer.Option(envvar="MECFAB_MEMORY_MB", help="Memory limit, MiB.")] = None,
    price: Annotated[int | None, typer.Option(envvar="MECFAB_PRICE", help="Credits per 1e9 cycles.")] = None,
    background: Annotated[float | None, typer.Option(envvar="MECFAB_BACKGROUND", help="Background CPU share.")] = None,
    background_period: Annotated[
        float | None, typer.Option(envvar="MECFAB_BACKGROUND_PERIOD", help="On/off period of the background, s.")
    ] = None,
    max_queue: Annotated[int, typer.Option(help="Tasks queued before it declines.")] = 8,
    offer_timeout: Annotated[float, typer.Option(help="Seconds a requester waits for offers.")] = 4.0,
    verify: Annotated[bool, typer.Option(help="Recompute every result before settling.")] = False,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            envvar="MECFAB_AGENT_SECRET_FILE",
            help="The org's agent secret, asked of every request that acts for the org (default without"
            " --peer: the network's state directory, created if missing; required with --peer).",
        ),
    ] = None,
) -> None:
    """Run an edge server's agent: offers, executes, requests and settles tasks (until stopped)."""
    from orchestrator.agent import AgentServer, AgentSettings, EdgeAgent, PeerConnection
    from orchestrator.agent_secret import ensure_secret, read_secret
    from orchestrator.topology import EdgeServerSpec

    host, _, port_text = listen.rpartition(":")
    if not host or not port_text.isdigit():
        fail(f"invalid --listen {listen!r}: give host:port")
    overrides = {
        "cpus": cpus,
        "memory_mb": memory_mb,
        "price_per_gigacycle": price,
        "background_load": background,
        "background_period_s": background_period,
        "max_queue": max_queue,
        "offer_timeout_s": offer_timeout,
        "verify_results": verify,
    }
    if peer is None:
        network = spec()
        found = _edge_org(network, org)
        conn = run(lambda: PeerConnection.from_spec(network, found.name))
        server_spec = network.topology.edge_server(found)
        if secret_file is None:
            secret_file = network.state.agent_secret(found)
            ensure_secret(secret_file)
    else:
        if tls_ca is None or msp_dir is None:
            fail("--peer needs --tls-ca and --msp-dir (or MECFAB_TLS_CA and MECFAB_MSP_DIR)")
        if not re.fullmatch(r"Edge[1-9][0-9]?", org):
            fail(f"unknown org {org!r}: agents serve edge orgs Edge1, Edge2, ...")
        conn = PeerConnection(
            org=org,
            msp_id=f"{org}MSP",
            endpoint=peer,
            server_name=peer.rpartition(":")[0],
            tls_ca=tls_ca,
            msp_dir=msp_dir,
            channel=channel,
            chaincode=chaincode,
        )
        server_spec = EdgeServerSpec()
        if secret_file is None:
            fail("--peer needs --secret-file (or MECFAB_AGENT_SECRET_FILE): the org's agent secret")
    secret = run(lambda: read_secret(secret_file))
    settings = run(lambda: AgentSettings.from_server(server_spec, **overrides))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ledger = run(conn.connect)
    edge_agent = EdgeAgent(ledger, settings)
    server = run(lambda: AgentServer(edge_agent, host, int(port_text), secret=secret))
    server.start()
    try:
        run(edge_agent.start)
        console.print(
            f"[green]agent {conn.org} ready[/]: peer {conn.endpoint}, status on {server.url}/status, "
            f"{settings.cpus:g} cpus, {edge_agent.effective_hz / 1e9:.2f} Gcycles/s measured",
            highlight=False,
        )
        while not stop.wait(1.0):
            pass
    finally:
        edge_agent.stop()
        server.stop()
        ledger.close()
    console.print(f"agent {conn.org} stopped", highlight=False)


def agent_main() -> None:
    """Entry point of ``python -m orchestrator.agent`` (the container): plain log lines on stderr."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("orchestrator.gateway").setLevel(logging.WARNING)
    typer.main.get_command(agent_app)(prog_name="agent")


# ---- the live view ----------------------------------------------------------------------------
def _fmt(value: Any, spec_: str = ".2f", scale: float = 1.0) -> str:
    if value is None:
        return "-"
    return format(float(value) / scale, spec_)


def render_snapshot(
    snap: MonitorSnapshot, *, title: str, sent: int | None = None, finished: int | None = None
) -> Group:
    edges = Table(title=title, title_justify="left")
    for col in (
        "edge",
        "agent",
        "queue",
        "backlog s",
        "Gcyc/s",
        "busy",
        "bg",
        "cpu %",
        "mem MiB",
        "rx kB/s",
        "peer",
        "height",
    ):
        edges.add_column(col, justify="right" if col not in ("edge", "agent", "peer") else "left")
    for _, s in sorted(snap.edges.items()):
        a = s.agent
        edges.add_row(
            s.org,
            "[green]up[/]" if s.agent_ok else "[red]down[/]",
            str(a.get("queue_len", "-")),
            _fmt(a.get("backlog_s"), ".1f"),
            _fmt(a.get("effective_hz"), ".2f", 1e9),
            str(a.get("running") or "")[-8:],
            _fmt(a.get("background_share"), ".0%") if a.get("background_share") is not None else "-",
            _fmt(s.cpu_pct, ".0f"),
            _fmt(s.mem_mb, ".0f"),
            _fmt(s.net_rx_bps, ".0f", 1e3),
            "[green]ok[/]" if s.peer_healthy else "[red]down[/]",
            str(s.peer_height or "-"),
        )
    order = ("REQUESTED", "SHORTLISTED", "AWARDED", "COMPLETED", "SETTLED", "DISPUTED", "EXPIRED")
    counts = "  ".join(f"{k.lower()} {snap.counts.get(k, 0)}" for k in order)
    recent = sorted(snap.recent_latencies_s[-50:])
    if recent:
        p50, p95 = recent[len(recent) // 2], recent[min(len(recent) - 1, int(len(recent) * 0.95))]
        latency = f"request→settled over the last {len(recent)}: p50 {p50:.2f} s, p95 {p95:.2f} s"
    else:
        latency = "no task settled yet"
    lines = [f"tasks: {counts}", latency]
    lines.append(
        f"policy {snap.policy}: {snap.shortlists} shortlists, {snap.awards} delegated awards, {snap.expiries} expiries"
    )
    if sent is not None:
        lines.append(f"run: {sent} sent, {finished} finished")
    return Group(edges, *lines)


# ---- mecfab monitor ---------------------------------------------------------------------------
@monitor_app.callback(invoke_without_command=True)
def monitor(
    policy: Annotated[str, typer.Option(help="Selection policy: random, round-robin, least-loaded, auction, ddpg.")] = (
        "auction"
    ),
    k: Annotated[int, typer.Option("--k", help="Candidates per shortlist.")] = 2,
    model: Annotated[Path | None, typer.Option(help="Trained policy file for ddpg.")] = None,
    seconds: Annotated[float, typer.Option(help="Stop after this long (0: until Ctrl-C).")] = 0.0,
    live: Annotated[bool, typer.Option(help="Live terminal view.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """As the Cloud: sample the edges, shortlist every new task, award delegated ones, live view."""
    from orchestrator.agent import PeerConnection
    from orchestrator.monitor import CloudMonitor, EdgeSampler, MonitorSettings
    from orchestrator.workflow.fleet import AgentFleet
    from orchestrator.workflow.runner import make_policy

    network = spec()
    chosen = run(lambda: make_policy(network, policy, seed=0, model_path=model))
    settings = run(lambda: MonitorSettings(policy=policy, k=k))
    fleet = AgentFleet(network)
    cloud = run(lambda: PeerConnection.from_spec(network, network.topology.peer_orgs[0].name).connect())
    sampler = EdgeSampler(network.topology, agent_urls=fleet.urls, project=network.project)
    mon = CloudMonitor(cloud, network.topology, chosen, settings, sampler=sampler)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    end = time.monotonic() + seconds if seconds > 0 else math.inf
    try:
        sampler.start()
        run(mon.start)
        if live and not as_json:
            with Live(console=out, refresh_per_second=2) as view:
                while not stop.wait(1.0) and time.monotonic() < end:
                    view.update(render_snapshot(mon.snapshot(), title=f"mecfab monitor · {network.project}"))
        else:
            if not as_json:
                console.print(f"[green]monitor up[/] (policy {policy}); Ctrl-C stops it", highlight=False)
            while not stop.wait(1.0) and time.monotonic() < end:
                pass
    except KeyboardInterrupt:
        pass
    finally:
        mon.stop()
        sampler.stop()
        cloud.close()
    snap = mon.snapshot()
    if as_json:
        emit_json(
            {
                "counts": snap.counts,
                "shortlists": snap.shortlists,
                "awards": snap.awards,
                "expiries": snap.expiries,
                "edges": {m: {"agent_ok": s.agent_ok, **dict(s.agent)} for m, s in snap.edges.items()},
            }
        )


# ---- mecfab run -------------------------------------------------------------------------------
@run_app.command("tasks")
def run_tasks_command(
    count: Annotated[int, typer.Option(help="Tasks in the run.")] = 200,
    rate: Annotated[float, typer.Option(help="Mean arrivals per second.")] = 5.0,
    policy: Annotated[str, typer.Option(help="Policy, or several separated by commas (same workload each).")] = (
        "auction"
    ),
    seed: Annotated[int, typer.Option(help="Workload seed: the same seed replays the same tasks.")] = 1,
    k: Annotated[int, typer.Option("--k", help="Candidates per shortlist.")] = 2,
    cycles_min: Annotated[str, typer.Option(help="Fewest CPU cycles a task needs (8e8, 800M).")] = "1e8",
    cycles_max: Annotated[str, typer.Option(help="Most CPU cycles a task needs.")] = "8e8",
    input_min: Annotated[str, typer.Option(help="Smallest input, bytes (16k).")] = "16k",
    input_max: Annotated[str, typer.Option(help="Largest input, bytes (at most 1048576).")] = "256k",
    deadline_min: Annotated[int, typer.Option(help="Shortest deadline, seconds after the request.")] = 30,
    deadline_max: Annotated[int, typer.Option(help="Longest deadline, seconds.")] = 60,
    delegate_share: Annotated[float, typer.Option(help="Share of tasks the Cloud awards.")] = 0.25,
    max_reassign: Annotated[int, typer.Option(help="Times an expired task is put up again.")] = 1,
    arrivals: Annotated[str, typer.Option(help="poisson or uniform.")] = "poisson",
    requesters: Annotated[str, typer.Option(help="Edges that originate tasks, comma-separated (default: all).")] = "",
    model: Annotated[Path | None, typer.Option(help="Trained policy for ddpg (default results/sim).")] = None,
    offer_timeout: Annotated[float, typer.Option(help="Offer window, seconds.")] = 4.0,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Results folder (default results/runs/<time>).")] = None,
    keep_agents: Annotated[bool, typer.Option(help="Leave the agents running afterwards.")] = False,
    live: Annotated[bool, typer.Option(help="Live terminal view while it runs.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """A whole task-sharing run: agents + monitor + workload; results with per-stage latencies."""
    from orchestrator.workflow.runner import RunConfig, asdict_outcome, run_many
    from orchestrator.workflow.workload import parse_workload

    policies = [p.strip() for p in policy.split(",") if p.strip()]
    if not policies:
        fail("give at least one --policy")
    workload = run(
        lambda: parse_workload(
            {
                "count": count,
                "rate_hz": rate,
                "arrivals": arrivals,
                "seed": seed,
                "cycles_min": parse_amount(cycles_min, what="--cycles-min"),
                "cycles_max": parse_amount(cycles_max, what="--cycles-max"),
                "input_min": parse_amount(input_min, what="--input-min"),
                "input_max": parse_amount(input_max, what="--input-max"),
                "deadline_min_s": deadline_min,
                "deadline_max_s": deadline_max,
                "delegate_share": delegate_share,
                "max_reassign": max_reassign,
                "requesters": tuple(r.strip() for r in requesters.split(",") if r.strip()),
            }
        )
    )
    network = spec()
    if workload.requesters:
        for name in workload.requesters:
            _edge_org(network, name)
    config = run(
        lambda: RunConfig(
            workload=workload,
            policy=policies[0],
            model_path=model,
            k=k,
            offer_timeout_s=offer_timeout,
            keep_agents=keep_agents,
        )
    )
    folder = out_dir or Path("results") / "runs" / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    _interrupt_on_sigterm()
    view: Live | None = None

    def tick(snap: MonitorSnapshot, sent: int, finished: int) -> None:
        if view is not None:
            view.update(render_snapshot(snap, title=f"mecfab run · {snap.policy}", sent=sent, finished=finished))

    def call() -> Any:
        return run_many(network, config, policies, out=folder, progress=progress, tick=tick)

    if live and not as_json:
        with Live(console=console, refresh_per_second=2, transient=True) as view:
            outcomes = run(call)
    else:
        outcomes = run(call)
    if as_json:
        emit_json({"folder": str(folder), "runs": [asdict_outcome(o) for o in outcomes]})
        return
    from orchestrator.workflow.summary import overview_table, stage_table

    summaries = {p: o.summary for p, o in zip(policies, outcomes, strict=True)}
    out.print(overview_table(summaries), highlight=False)
    out.print("\nper stage (ms, tasks settled at the first attempt):", highlight=False)
    out.print(stage_table(summaries), highlight=False)
    for p, o in zip(policies, outcomes, strict=True):
        check = o.ledger["credit_check"]
        balanced = o.ledger["audit"].get("balanced")
        mark = "[green]ok[/]" if balanced and check["consistent"] else "[yellow]see ledger.json[/]"
        out.print(f"{p}: credits conserved {balanced}, balance changes explained {check['consistent']} {mark}")
    out.print(f"results in {folder}", highlight=False)


@run_app.command("task")
def run_one(
    org: Annotated[str, typer.Option("--org", help="The requesting edge.")] = "Edge1",
    cycles: Annotated[str, typer.Option(help="CPU cycles (8e8, 800M).")] = "5e8",
    input_bytes: Annotated[str, typer.Option("--input", help="Input size in bytes (64k).")] = "64k",
    deadline: Annotated[str, typer.Option(help="Seconds from now (60, 2m) or an ISO time.")] = "60",
    max_price: Annotated[int, typer.Option(help="Most the requester pays.")] = 1000,
    delegate: Annotated[bool, typer.Option(help="Let the Cloud award.")] = False,
    policy: Annotated[str, typer.Option(help="The monitor's policy.")] = "auction",
    as_json: JsonOpt = False,
) -> None:
    """One task through the whole workflow (agents and monitor), with its timeline."""
    from orchestrator.agent import TaskOrder
    from orchestrator.workflow.runner import Session

    network = spec()
    found = _edge_org(network, org)

    order = run(
        lambda: TaskOrder(
            task_id=f"one-{dt.datetime.now():%m%d%H%M%S}",
            cycles=parse_amount(cycles, what="cycles"),
            input_bytes=parse_amount(input_bytes, what="input size"),
            deadline_s=parse_deadline(deadline),
            max_price=max_price,
            delegate=delegate,
            award_rule="auction" if policy == "auction" else "rank",
        )
    )

    def call() -> dict[str, Any]:
        with Session(network, policy=policy, progress=progress) as s:
            s.fleet.clients[found.msp_id].originate(order)
            end = time.monotonic() + order.deadline_s + 30
            while time.monotonic() < end:
                state = s.cloud_monitor.states().get(order.task_id)
                if state is not None and state.status in ("SETTLED", "DISPUTED", "EXPIRED"):
                    break
                time.sleep(0.5)
            time.sleep(1.0)
            marks, _ = s.collect(order.task_id)
            return {
                "task": s.ledger.read_task(order.task_id),
                "marks": sorted(
                    ({"t": m.t, "stage": m.stage, "actor": m.actor, "detail": m.detail} for m in marks),
                    key=lambda m: m["t"],
                ),
            }

    _interrupt_on_sigterm()
    result = run(call)
    if as_json:
        emit_json(result)
        return
    table = Table(title=f"task {order.task_id}: {result['task']['status']}")
    for col in ("+ms", "stage", "by", "detail"):
        table.add_column(col)
    t0 = result["marks"][0]["t"] if result["marks"] else 0.0
    for m in result["marks"]:
        table.add_row(f"{(m['t'] - t0) * 1000:.0f}", m["stage"], m["actor"], m["detail"])
    out.print(table)


def _demo_output(report: Any, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_json())
    else:
        table = Table(title=f"{report.name}: history of {report.task_id}")
        for col in ("time", "status", "requester", "executor", "pending owner", "escrow"):
            table.add_column(col)
        for r in report.timeline:
            table.add_row(r["time"], r["status"], r["requester"], r["executor"], r["pending_owner"], str(r["escrow"]))
        out.print(table)
        out.print(
            "balance / reputation changes: "
            + ", ".join(f"{m} {d['balance']:+d} / {d['reputation']:+d}" for m, d in report.balances.items()),
            highlight=False,
        )
        for what, ok, detail in report.checks:
            out.print(
                f"  {'[green]ok[/]  ' if ok else '[red]FAIL[/]'} {what}" + (f" ({detail})" if detail and not ok else "")
            )
    if not report.ok:
        raise typer.Exit(1)


@run_app.command("mobility")
def run_mobility(as_json: JsonOpt = False) -> None:
    """Move a task's requester role to another edge while it executes; check who pays."""
    from orchestrator.workflow.demos import mobility

    network = spec()
    _interrupt_on_sigterm()
    _demo_output(run(lambda: mobility(network, progress=progress)), as_json)


@run_app.command("fault")
def run_fault(
    how: Annotated[
        str,
        typer.Option(help="kill: SIGKILL the executor's agent; partition: cut it off the network while it runs."),
    ] = "kill",
    as_json: JsonOpt = False,
) -> None:
    """Kill or partition the executor's agent mid-task: the task expires, is reassigned, and is paid once."""
    from orchestrator.workflow.demos import fault

    network = spec()
    _interrupt_on_sigterm()
    _demo_output(run(lambda: fault(network, how=how, progress=progress)), as_json)


@run_app.command("compare")
def run_compare(
    folders: Annotated[list[Path], typer.Argument(help="Results folders of runs (each with summary.json).")],
    write: Annotated[Path | None, typer.Option(help="Also write the comparison to this folder.")] = None,
) -> None:
    """Per-stage latencies of several runs side by side."""
    from orchestrator.workflow.runner import summary_from_folder, write_comparison
    from orchestrator.workflow.summary import overview_table, stage_table

    summaries: dict[str, dict[str, Any]] = {}
    for folder in folders:
        label = folder.name
        try:
            config = json.loads((folder / "config.json").read_text())
            label = f"{config['config']['policy']} ({folder.name})" if label != config["config"]["policy"] else label
        except (OSError, ValueError, KeyError):
            pass
        summaries[label] = run(lambda f=folder: summary_from_folder(f))  # type: ignore[misc]
    out.print(overview_table(summaries), highlight=False)
    out.print(stage_table(summaries), highlight=False)
    if write is not None:
        out.print(f"written to {write_comparison(write, summaries)}", highlight=False)


@run_app.command("agents")
def run_agents(
    stop: Annotated[bool, typer.Option("--stop", help="Stop and remove the agent containers.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start the edge agents (containers) and show their status; --stop removes them."""
    from orchestrator.errors import NetworkError
    from orchestrator.workflow.fleet import AgentFleet

    fleet = AgentFleet(spec())
    if stop:
        run(fleet.stop)
        console.print("[green]agents removed[/]")
        return
    run(lambda: fleet.start(progress=progress))
    rows = {}
    for msp, client in fleet.clients.items():
        try:
            rows[msp] = client.status()
        except NetworkError as exc:
            rows[msp] = {"error": str(exc)}
    if as_json:
        emit_json(rows)
        return
    table = Table(title="edge agents")
    for col in ("edge", "url", "cpus", "Gcyc/s", "price", "bg", "queue", "executed"):
        table.add_column(col)
    for msp, st in rows.items():
        table.add_row(
            msp,
            fleet.urls[msp],
            str(st.get("cpus", "-")),
            _fmt(st.get("effective_hz"), ".2f", 1e9),
            str(st.get("price_per_gigacycle", "-")),
            _fmt(st.get("background_share"), ".0%") if "background_share" in st else "-",
            str(st.get("queue_len", "-")),
            str(st.get("executed", "-")),
        )
    out.print(table)
