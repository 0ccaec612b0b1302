"""Scale-out benchmark: how long a network of N edges takes to come up, and what it holds in memory idle.

For each edge count N: a fresh isolated network (its own compose project, host ports and state
directory) is brought up with :func:`orchestrator.network.up`, each step of it timed (artifacts,
containers started, nodes healthy, orderers joined, peers joined, chaincode deployed, chaincode
ready on every peer from every org); after ``idle_s`` seconds of idling the memory and CPU of every
container is read from its ``docker stats`` stream (averaged over ``samples`` one-second readings),
then the network is torn down. The results folder holds ``times.csv``, ``memory.csv``,
``summary.json``, ``summary.md``, ``scale.png`` and ``runs.json`` (everything, with every progress
line of ``up`` and when it came: the sub-steps, e.g. install/approve vs commit).

The pure parts (edge-count parsing, summaries, CSV and Markdown) need no Docker.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.topology import EdgesSpec, Topology, load_topology

__all__ = [
    "PORT_LIMIT",
    "ContainerSample",
    "ScaleRun",
    "max_edges",
    "parse_edges",
    "role_summary",
    "run_scale",
    "summarize",
    "write_results",
]

# Host ports stay below 32000: Linux picks ephemeral client ports from 32768 on, and a port a
# closed connection still holds cannot be published.
PORT_LIMIT = 32000
DEFAULT_PORT_BASE = 24000
# The highest port a node of slot i uses: base + 10*i + 3 (an edge's agent port).
_SLOT_SPAN = 10
_SLOT_TOP = 3
_EDGES_MAX = int(next(m.le for m in EdgesSpec.model_fields["count"].metadata if hasattr(m, "le")))

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


# ---- arguments -----------------------------------------------------------------------------------
def max_edges(port_base: int, *, orderers: int = 3) -> int:
    """The most edges a network with ports from ``port_base`` can have: the topology's limit, and
    every host port (Cloud at slot ``orderers``, Edge i at ``orderers + i``) below :data:`PORT_LIMIT`."""
    top_slot = (PORT_LIMIT - 1 - _SLOT_TOP - port_base) // _SLOT_SPAN
    return max(0, min(_EDGES_MAX, top_slot - orderers))


def parse_edges(text: str, *, port_base: int = DEFAULT_PORT_BASE, orderers: int = 3) -> list[int]:
    """``"4,8,16"`` → ``[4, 8, 16]`` (sorted, without repeats); a ConfigError with one clear line
    for anything else."""
    if port_base < 1024:
        raise ConfigError(f"--port-base {port_base}: host ports start at 1024 or above")
    limit = max_edges(port_base, orderers=orderers)
    if limit < 1:
        raise ConfigError(f"--port-base {port_base} leaves no room below port {PORT_LIMIT}: use a lower base")
    counts: set[int] = set()
    for part in text.split(","):
        item = part.strip()
        try:
            n = int(item)
        except ValueError:
            raise ConfigError(f"--edges {text!r}: {item!r} is not a whole number (e.g. --edges 4,8,16)") from None
        if not 1 <= n <= limit:
            why = (
                f"a topology holds at most {_EDGES_MAX} edges"
                if limit == _EDGES_MAX
                else f"ports from {port_base} must stay below {PORT_LIMIT}"
            )
            raise ConfigError(f"--edges {n}: an edge count must be 1..{limit} ({why})")
        counts.add(n)
    return sorted(counts)


# ---- measurements --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ContainerSample:
    """One container of a network at idle: mean memory (docker stats: usage − inactive file) and CPU."""

    service: str
    role: str  # orderer | peer | chaincode | other
    mem_mb: float
    cpu_pct: float  # % of one core


@dataclass
class ScaleRun:
    """One edge count: step durations of ``up``, idle memory, the machine's load."""

    edges: int
    project: str
    steps_s: dict[str, float] = field(default_factory=dict)  # step name -> seconds, in UP_STEPS order
    containers: list[ContainerSample] = field(default_factory=list)
    down_s: float | None = None
    loadavg_start: tuple[float, float, float] | None = None
    loadavg_idle: tuple[float, float, float] | None = None
    host_mem_used_mb: float | None = None  # MemAvailable before up − at idle
    error: str | None = None
    events: list[tuple[float, str]] = field(default_factory=list)  # (s since start, progress line) of up

    @property
    def up_s(self) -> float:
        return sum(self.steps_s.values())

    @property
    def nodes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.containers:
            counts[c.role] = counts.get(c.role, 0) + 1
        return counts


def role_summary(containers: Iterable[ContainerSample]) -> dict[str, dict[str, float]]:
    """Per role: count, mean/min/max MB per container, total MB, mean CPU % per container."""
    groups: dict[str, list[ContainerSample]] = {}
    for c in containers:
        groups.setdefault(c.role, []).append(c)
    return {
        role: {
            "count": len(items),
            "mem_mb_mean": mean(c.mem_mb for c in items),
            "mem_mb_min": min(c.mem_mb for c in items),
            "mem_mb_max": max(c.mem_mb for c in items),
            "mem_mb_total": sum(c.mem_mb for c in items),
            "cpu_pct_mean": mean(c.cpu_pct for c in items),
        }
        for role, items in sorted(groups.items())
    }


def summarize(runs: Sequence[ScaleRun], *, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The summary document (``summary.json``, and ``--json``)."""
    rows = []
    for r in runs:
        roles = role_summary(r.containers)
        rows.append(
            {
                "edges": r.edges,
                "project": r.project,
                "up_s": round(r.up_s, 3) if r.steps_s else None,
                "steps_s": {k: round(v, 3) for k, v in r.steps_s.items()},
                "down_s": None if r.down_s is None else round(r.down_s, 3),
                "containers": len(r.containers),
                "mem_mb_total": round(sum(c.mem_mb for c in r.containers), 1),
                "cpu_pct_total": round(sum(c.cpu_pct for c in r.containers), 1),
                "roles": {role: {k: round(v, 2) for k, v in s.items()} for role, s in roles.items()},
                "host_mem_used_mb": None if r.host_mem_used_mb is None else round(r.host_mem_used_mb, 1),
                "loadavg_start": r.loadavg_start,
                "loadavg_idle": r.loadavg_idle,
                "error": r.error,
            }
        )
    return {**(meta or {}), "runs": rows, "ok": all(r.error is None for r in runs)}


# ---- results folder ------------------------------------------------------------------------------
TIMES_COLUMNS = ("edges", "step", "seconds", "cumulative_s")
MEMORY_COLUMNS = ("edges", "service", "role", "mem_mb", "cpu_pct")


def write_times_csv(path: Path, runs: Sequence[ScaleRun]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(TIMES_COLUMNS)
        for r in runs:
            total = 0.0
            for step, seconds in r.steps_s.items():
                total += seconds
                writer.writerow([r.edges, step, f"{seconds:.3f}", f"{total:.3f}"])
    return path


def write_memory_csv(path: Path, runs: Sequence[ScaleRun]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(MEMORY_COLUMNS)
        for r in runs:
            for c in sorted(r.containers, key=lambda c: (c.role, c.service)):
                writer.writerow([r.edges, c.service, c.role, f"{c.mem_mb:.2f}", f"{c.cpu_pct:.2f}"])
    return path


def _fmt_load(load: Sequence[float] | None) -> str:
    return "-" if not load else " / ".join(f"{x:.1f}" for x in load)


def summary_markdown(summary: dict[str, Any]) -> str:
    runs = summary["runs"]
    steps = list(dict.fromkeys(s for r in runs for s in r["steps_s"]))
    roles = list(dict.fromkeys(role for r in runs for role in r["roles"]))
    lines = [
        "# Scale-out: time to ready and idle memory vs edges",
        "",
        f"Fabric {summary.get('fabric_version', '?')}, {summary.get('orderers', '?')} orderers, "
        f"idle {summary.get('idle_s', '?')} s before sampling; {summary.get('created', '')}.",
        f"Command: `{summary.get('command', 'mecfab bench scale')}`",
        "",
        "## Time to ready (s)",
        "",
        "| edges | up | " + " | ".join(steps) + " | down | load avg (1/5/15 min) at start |",
        "|---:|---:|" + "---:|" * len(steps) + "---:|---|",
    ]
    for r in runs:
        cells = [f"{r['steps_s'][s]:.1f}" if s in r["steps_s"] else "-" for s in steps]
        up = "-" if r["up_s"] is None else f"{r['up_s']:.1f}"
        down = "-" if r["down_s"] is None else f"{r['down_s']:.1f}"
        lines.append(
            f"| {r['edges']} | **{up}** | " + " | ".join(cells) + f" | {down} | {_fmt_load(r['loadavg_start'])} |"
        )
    lines += [
        "",
        "## Idle memory (MB, docker stats: usage − inactive file cache) and CPU",
        "",
        "| edges | containers | "
        + " | ".join(f"{role} MB/container" for role in roles)
        + " | total MB | host MemAvailable drop MB | idle CPU % (all) | load avg at idle |",
        "|---:|---:|" + "---:|" * len(roles) + "---:|---:|---:|---|",
    ]
    for r in runs:
        cells = []
        for role in roles:
            s = r["roles"].get(role)
            cells.append("-" if not s else f"{s['mem_mb_mean']:.1f} (×{int(s['count'])})")
        host = "-" if r["host_mem_used_mb"] is None else f"{r['host_mem_used_mb']:.0f}"
        lines.append(
            f"| {r['edges']} | {r['containers']} | "
            + " | ".join(cells)
            + f" | {r['mem_mb_total']:.0f} | {host} | {r['cpu_pct_total']:.0f} | {_fmt_load(r['loadavg_idle'])} |"
        )
    failed = [r for r in runs if r["error"]]
    if failed:
        lines += ["", "## Failed", ""] + [f"* {r['edges']} edges: {r['error']}" for r in failed]
    lines += [
        "",
        "Steps: artifacts (render, cryptogen, genesis block) · containers (`docker compose up`) · "
        "healthy (every node's /healthz) · orderers (osnadmin join, a Raft leader) · peers (channel join) · "
        "chaincode (install, approve, commit) · ready (every org's gateway reaches the chaincode on every "
        "org's peer).",
        "",
    ]
    return "\n".join(lines)


def plot_scale(path: Path, runs: Sequence[ScaleRun]) -> Path:
    """Up time per step (stacked) and memory per role (mean per container, total) against N."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in runs if r.steps_s]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.5))
    xs = [str(r.edges) for r in ok]
    bottom = [0.0] * len(ok)
    steps = list(dict.fromkeys(s for r in ok for s in r.steps_s))
    for step in steps:
        values = [r.steps_s.get(step, 0.0) for r in ok]
        ax1.bar(xs, values, bottom=bottom, label=step)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for x, total in zip(xs, bottom, strict=True):
        ax1.annotate(f"{total:.0f} s", (x, total), ha="center", va="bottom", fontsize=9)
    ax1.set(xlabel="edges", ylabel="seconds", title="time to chaincode-ready, per step")
    ax1.legend(fontsize=8)
    edges = [r.edges for r in runs if r.containers]
    summaries = [role_summary(r.containers) for r in runs if r.containers]
    roles = list(dict.fromkeys(role for s in summaries for role in s))
    markers = {"peer": "o", "orderer": "s", "chaincode": "^"}
    for role in roles:
        xs_r = [e for e, s in zip(edges, summaries, strict=True) if role in s]
        ax2.plot(
            xs_r, [s[role]["mem_mb_mean"] for s in summaries if role in s], marker=markers.get(role, "x"), label=role
        )
        ax3.plot(
            xs_r, [s[role]["mem_mb_total"] for s in summaries if role in s], marker=markers.get(role, "x"), label=role
        )
    ax3.plot(edges, [sum(v["mem_mb_total"] for v in s.values()) for s in summaries], "k--", marker="D", label="all")
    ax2.set(xlabel="edges", ylabel="MB", title="idle memory per container (mean)")
    ax3.set(xlabel="edges", ylabel="MB", title="idle memory per role (total)")
    for ax in (ax2, ax3):
        ax.set_xticks(edges)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_results(folder: Path, runs: Sequence[ScaleRun], *, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every file of the results folder; returns the summary (with the folder and file names)."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarize(runs, meta=meta) | {"folder": str(folder)}
    files = [write_times_csv(folder / "times.csv", runs), write_memory_csv(folder / "memory.csv", runs)]
    (folder / "runs.json").write_text(json.dumps([asdict(r) for r in runs], indent=2, default=str) + "\n")
    (folder / "summary.md").write_text(summary_markdown(summary))
    files += [folder / "runs.json", folder / "summary.md"]
    if any(r.steps_s for r in runs):
        files.append(plot_scale(folder / "scale.png", runs))
    summary["files"] = [p.name for p in [*files, folder / "summary.json"]]
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


# ---- the live part -------------------------------------------------------------------------------
def _mem_available_mb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _loadavg() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))


def sample_idle(project: str, topology: Topology, *, idle_s: float, samples: int = 5) -> list[ContainerSample]:
    """After ``idle_s`` seconds, ``samples`` readings one second apart of every running container's
    ``docker stats`` stream (streams opened at once, so the daemon's CPU deltas are ready)."""
    from orchestrator import engine
    from orchestrator.bench.sampler import _docker_numbers, container_role

    client = engine.connect()
    streams = [engine.StatsStream(c) for c in engine.project_containers(client, project) if c.status == "running"]
    for s in streams:
        s.start()
    readings: dict[str, list[tuple[float, float]]] = {}
    try:
        time.sleep(max(0.0, idle_s - samples))  # the idle period being measured, not a readiness wait
        for _ in range(samples):
            time.sleep(1.0)
            for s in streams:
                if s.latest is not None:
                    cpu_pct, _cpu_s, mem_mb, *_rest = _docker_numbers(s.latest)
                    service = s.container.labels.get("com.docker.compose.service", s.container.name)
                    readings.setdefault(service, []).append((mem_mb, cpu_pct))
    finally:
        for s in streams:
            s.stopping.set()
        client.close()
    return [
        ContainerSample(
            service=service,
            role=container_role(service, topology),
            mem_mb=mean(m for m, _ in values),
            cpu_pct=mean(c for _, c in values),
        )
        for service, values in sorted(readings.items())
    ]


def measure(
    edges: int,
    *,
    port_base: int = DEFAULT_PORT_BASE,
    idle_s: float = 10.0,
    version: str | None = None,
    topology: Topology | None = None,
    progress: Progress = _quiet,
    timeout: float = 300,
) -> ScaleRun:
    """Up, idle, sample, down: one edge count. Always tears its network down."""
    from orchestrator import network

    base = (topology or load_topology()).with_overrides(edges=edges, port_base=port_base)
    # a fresh project name each time: Docker's embedded DNS has been seen to answer NXDOMAIN on a
    # just-recreated network of the same name while the daemon's swarm state changed
    project = f"mecfab-scale-{edges}e-{os.getpid()}-{int(time.time()) % 100000}"
    root = Path(tempfile.mkdtemp(prefix=f"{project}-"))
    spec = network.NetworkSpec.isolated(root, project=project, topology=base, version=version)
    run = ScaleRun(edges=edges, project=project, loadavg_start=_loadavg())
    mem_before = _mem_available_mb()
    start = last = time.monotonic()

    def note(message: str) -> None:
        run.events.append((round(time.monotonic() - start, 3), message))
        progress(f"[{edges} edges] {message}")

    def on_step(step: str) -> None:
        nonlocal last
        now = time.monotonic()
        run.steps_s[step] = now - last
        last = now
        note(f"{step}: {run.steps_s[step]:.1f} s")

    try:
        network.up(spec, progress=note, timeout=timeout, on_step=on_step)
        progress(f"[{edges} edges] ready in {run.up_s:.1f} s; idling {idle_s:.0f} s, then sampling docker stats")
        run.containers = sample_idle(project, spec.topology, idle_s=idle_s)
        run.loadavg_idle = _loadavg()
        mem_idle = _mem_available_mb()
        if mem_before is not None and mem_idle is not None:
            run.host_mem_used_mb = mem_before - mem_idle
    except Exception as exc:
        run.error = f"{exc.__class__.__name__}: {exc}"
        progress(f"[{edges} edges] failed: {run.error}")
    finally:
        started = time.monotonic()
        network.down(spec)
        run.down_s = time.monotonic() - started
        shutil.rmtree(root, ignore_errors=True)
        progress(f"[{edges} edges] torn down in {run.down_s:.1f} s")
    return run


def run_scale(
    edge_counts: Sequence[int],
    folder: Path,
    *,
    port_base: int = DEFAULT_PORT_BASE,
    idle_s: float = 10.0,
    version: str | None = None,
    topology_file: Path | None = None,
    progress: Progress = _quiet,
    command: str = "mecfab bench scale",
) -> dict[str, Any]:
    """Measure every edge count in turn (one network at a time) and write the results folder."""
    from orchestrator.bench.results import git_info, host_facts
    from orchestrator.topology import REPO_ROOT
    from orchestrator.versions import fabric_version

    topology = load_topology(topology_file)
    if topology.edges.removed or topology.orderers.added or topology.orderers.removed:
        raise ConfigError("the scale benchmark needs a topology without removed edges or added/removed orderers")
    meta = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": command,
        "fabric_version": fabric_version(version),
        "orderers": topology.orderers.count,
        "consensus": topology.consensus,
        "idle_s": idle_s,
        "port_base": port_base,
        "host": host_facts(),
        "git": git_info(REPO_ROOT),
    }
    runs: list[ScaleRun] = []
    for n in edge_counts:
        runs.append(
            measure(n, port_base=port_base, idle_s=idle_s, version=version, topology=topology, progress=progress)
        )
        write_results(folder, runs, meta=meta)  # a partial folder survives an interrupted sweep
    return write_results(folder, runs, meta=meta)
