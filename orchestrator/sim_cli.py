"""``mecfab sim``: the latency-model simulator, DDPG training, policy comparison and figures.

Thin: parses options, calls :mod:`orchestrator.sim`, and owns all output (rich tables and
progress bars, or one JSON document with ``--json``). Mounted into the main CLI as ``sim``.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from orchestrator.errors import ConfigError, EnvironmentProblem, MecFabError
from orchestrator.policy.registry import BASELINES, available_policies
from orchestrator.sim.config import (
    OPTIMIZERS,
    DdpgConfig,
    OptimizerName,
    SimConfig,
    parse_ddpg_config,
    parse_sim_config,
)

sim_app = typer.Typer(
    help="Simulate the paper's latency model, train the DDPG executor selector, compare policies, "
    "and regenerate the figures (PNG + CSV). Needs the 'ddpg' extra (torch, gymnasium) for train/figures.",
    no_args_is_help=True,
)

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_OUT = Path("results/sim")

OutOpt = Annotated[Path, typer.Option("--out", help="Folder for policy files, CSV and PNG (created if missing).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of everything random: traces, networks, noise.")]
StepsOpt = Annotated[int, typer.Option("--steps", min=1, help="Tasks (decisions) per episode or run.")]
NodesOpt = Annotated[int | None, typer.Option("--nodes", min=1, help="Edge nodes N (default 5, or --config).")]
RateOpt = Annotated[
    float | None,
    typer.Option("--rate", help="Task arrival rate λ in tasks/s (default 6, or --config); training jitters it ±50%."),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="YAML or JSON file with sections 'sim' (SimConfig) and 'ddpg' (DdpgConfig); see docs/sim.md.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of tables and progress.")]
ArchOpt = Annotated[
    str | None, typer.Option("--architecture", help="DDPG networks: 'per-node' (shared node scorer) or 'mlp'.")
]


def _fail(exc: MecFabError) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {exc}", highlight=False)
    return typer.Exit(code=exc.exit_code)


def _handles_errors(command: F) -> F:
    """Turn our errors into one red line on stderr and the error's exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except MecFabError as exc:
            raise _fail(exc) from None

    return cast(F, wrapper)


def _configs(
    config_path: Path | None,
    *,
    nodes: int | None = None,
    rate: float | None = None,
    architecture: str | None = None,
    optimizer: str | None = None,
) -> tuple[SimConfig, DdpgConfig]:
    """The configs from ``--config`` (sections ``sim`` and ``ddpg``), then the options given on the command line."""
    sections: dict[str, Any] = {}
    if config_path is not None:
        try:
            loaded = yaml.safe_load(config_path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read config file {config_path}: {exc}") from None
        if not isinstance(loaded, dict) or set(loaded) - {"sim", "ddpg"}:
            raise ConfigError(f"config file {config_path} must be a mapping with the sections 'sim' and/or 'ddpg'")
        sections = loaded
    sim_data = dict(sections.get("sim") or {})
    ddpg_data = dict(sections.get("ddpg") or {})
    sim_data.update({k: v for k, v in (("n_nodes", nodes), ("arrival_rate_hz", rate)) if v is not None})
    ddpg_data.update({k: v for k, v in (("architecture", architecture), ("optimizer", optimizer)) if v is not None})
    return parse_sim_config(sim_data), parse_ddpg_config(ddpg_data)


def _need_torch() -> None:
    try:
        import gymnasium  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise EnvironmentProblem(
            f"this command needs the 'ddpg' extra ({exc.name} is missing): pip install 'mec-fabric[ddpg]'"
        ) from None


@contextmanager
def _progress(enabled: bool, total: int, label: str) -> Iterator[Callable[[Any], None]]:
    """A rich progress bar advanced by the returned callback (a no-op when disabled)."""
    if not enabled:
        yield lambda _event: None
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(label, total=total, info="")

        def advance(event: Any) -> None:
            info = ""
            if hasattr(event, "reward"):
                info = f"trial {event.trial} reward {event.reward:8.1f}"
            elif isinstance(event, str):
                info = event
            bar.update(task, advance=1, info=info)

        yield advance


def _fmt_ci(value: float, half: float, *, scale: float = 1.0, digits: int = 3) -> str:
    text = f"{value * scale:.{digits}f}"
    return text if half != half else f"{text} ± {half * scale:.{digits}f}"  # NaN check


def _summary_table(rows: Sequence[Mapping[Any, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in ("λ [1/s]", "N", "policy", "mean latency [s]", "p95 latency [s]", "deadline miss [%]", "select [µs]"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for row in rows:
        table.add_row(
            f"{row['arrival_rate_hz']:g}",
            str(row["n_nodes"]),
            str(row["policy"]),
            _fmt_ci(row["mean_latency_s"], row["mean_latency_ci"]),
            _fmt_ci(row["p95_latency_s"], row["p95_latency_ci"]),
            _fmt_ci(row["miss_rate"], row["miss_rate_ci"], scale=100, digits=1),
            f"{row['mean_select_us']:.1f}",
        )
    return table


def _emit_json(document: dict[str, Any]) -> None:
    typer.echo(json.dumps(document, indent=2, default=str))


# ----------------------------------------------------------------------------- train
@sim_app.command()
@_handles_errors
def train(
    out: OutOpt = DEFAULT_OUT,
    trials: Annotated[int, typer.Option("--trials", min=1, help="Independent training runs (the paper: 10).")] = 10,
    episodes: Annotated[int, typer.Option("--episodes", min=1, help="Episodes per trial (the paper: 500).")] = 500,
    steps: StepsOpt = 100,
    seed: SeedOpt = 0,
    optimizer: Annotated[
        str | None,
        typer.Option("--optimizer", help=f"Optimizer of actor and critic: {', '.join(OPTIMIZERS)} (default adam)."),
    ] = None,
    nodes: NodesOpt = None,
    rate: RateOpt = None,
    architecture: ArchOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train DDPG selectors (Algorithm 1); keep the best as OUT/ddpg_policy_n<N>.pt; draw Fig. 1 and 2."""
    _need_torch()
    sim, ddpg = _configs(config, nodes=nodes, rate=rate, architecture=architecture, optimizer=optimizer)
    from orchestrator.sim.experiments import run_training

    with _progress(not as_json, trials * episodes, "training") as advance:
        outputs = run_training(
            out, sim, ddpg, trials=trials, episodes=episodes, steps=steps, seed=seed, on_episode=advance
        )
    trials_info = [
        {"trial": r.trial, "seed": r.seed, "seconds": round(r.seconds, 2), "final_reward": round(r.final_reward(), 3)}
        for r in outputs.results
    ]
    if as_json:
        _emit_json(
            {
                "policy": outputs.policy,
                "best_trial": outputs.best_trial,
                "trials": trials_info,
                "files": list(outputs.files),
            }
        )
        return
    table = Table(title=f"DDPG training: {episodes} episodes × {steps} steps, N={sim.n_nodes}, {ddpg.optimizer}")
    for column in ("trial", "seed", "seconds", "final reward (last 50 episodes)"):
        table.add_column(column, justify="right")
    for info in trials_info:
        mark = " ★" if info["trial"] == outputs.best_trial else ""
        table.add_row(
            str(info["trial"]), str(info["seed"]), f"{info['seconds']:.1f}", f"{info['final_reward']:.2f}{mark}"
        )
    console.print(table)
    console.print(f"best policy: [bold]{outputs.policy}[/bold]")
    for path in outputs.files[1:]:
        console.print(f"  wrote {path}")


# ----------------------------------------------------------------------------- compare
@sim_app.command()
@_handles_errors
def compare(
    policy: Annotated[
        list[str] | None,
        typer.Option(
            "--policy",
            help=f"Policy to run (repeat the option); default: every baseline, and ddpg if "
            f"a policy file is found. Known: {', '.join(available_policies())}.",
        ),
    ] = None,
    model: Annotated[
        Path | None, typer.Option("--model", help="DDPG policy file; default OUT/ddpg_policy_n<N>.pt.")
    ] = None,
    rate: Annotated[
        list[float] | None,
        typer.Option("--rate", help="Arrival rate λ in tasks/s; repeat to sweep. Default 6 (or --config)."),
    ] = None,
    nodes: Annotated[
        list[int] | None, typer.Option("--nodes", help="Edge nodes N; repeat to sweep. Default 5 (or --config).")
    ] = None,
    trials: Annotated[int, typer.Option("--trials", min=2, help="Repeated runs (seeded traces) per cell.")] = 10,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Tasks per run.")] = 200,
    seed: SeedOpt = 1,
    out: OutOpt = DEFAULT_OUT,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run policies on identical seeded traces; report mean, p95 and deadline misses with 95% CIs."""
    base, _ = _configs(config)
    rates = rate or [base.arrival_rate_hz]
    node_counts = nodes or [base.n_nodes]
    paths: dict[int, Path] = {}
    for n in node_counts:
        candidate = model if model is not None else out / f"ddpg_policy_n{n}.pt"
        if model is not None or candidate.is_file():
            paths[n] = candidate
    names = policy or list(BASELINES) + (["ddpg"] if paths else [])
    if "ddpg" in names:
        _need_torch()
        if not paths:
            raise _fail(ConfigError(f"no DDPG policy file in {out}; pass --model or run `mecfab sim train` first"))
    from orchestrator.sim.evaluate import compare as compare_policies
    from orchestrator.sim.evaluate import policy_factories, summary_frame

    factories = policy_factories(names, model_paths=paths, seed=seed)
    cells = [(r, n) for n in node_counts for r in rates]
    frames = []
    started = time.perf_counter()
    with _progress(not as_json, len(cells), "comparing") as advance:
        for r, n in cells:
            cell = base.with_updates(arrival_rate_hz=r, n_nodes=n)
            results = compare_policies(factories, cell, runs=trials, steps=steps, seed=seed)
            frames.append(summary_frame(results, arrival_rate_hz=r, n_nodes=n))
            advance(f"λ={r:g} N={n}")
    import pandas as pd

    data = pd.concat(frames, ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "compare.csv"
    data.to_csv(csv, index=False)
    rows = data.to_dict(orient="records")
    if as_json:
        _emit_json({"trials": trials, "steps": steps, "seed": seed, "csv": csv, "results": rows})
        return
    console.print(_summary_table(rows, f"{trials} runs × {steps} tasks per cell, 95% CI"))
    console.print(f"wrote {csv} in {time.perf_counter() - started:.1f} s")


# ----------------------------------------------------------------------------- figures
@sim_app.command(
    help="Regenerate every figure into OUT: Fig. 1-2 analogs, training time per optimizer, latency vs load "
    "and vs N. Uses OUT's training from `mecfab sim train` (trains one first if there is none), trains the "
    "extra policies the N sweep needs, then runs all policies on identical traces."
)
@_handles_errors
def figures(
    out: OutOpt = DEFAULT_OUT,
    episodes: Annotated[
        int,
        typer.Option(
            "--episodes", min=1, help="Episodes of each optimizer's training (and of a missing main training)."
        ),
    ] = 500,
    steps: StepsOpt = 100,
    seed: SeedOpt = 0,
    optimizer: Annotated[
        list[str] | None, typer.Option("--optimizer", help="Optimizers to time (repeat); default all four.")
    ] = None,
    trials: Annotated[int, typer.Option("--trials", min=2, help="Repeated runs per point of the latency sweeps.")] = 10,
    train_trials: Annotated[
        int, typer.Option("--train-trials", min=1, help="Training trials if OUT holds no training yet.")
    ] = 10,
    rate: Annotated[list[float] | None, typer.Option("--rate", help="Arrival rates to sweep (repeat).")] = None,
    nodes: Annotated[list[int] | None, typer.Option("--nodes", help="Cluster sizes to sweep (repeat).")] = None,
    node_episodes: Annotated[
        int, typer.Option("--node-episodes", min=1, help="Training episodes of the DDPG policy for each other N.")
    ] = 200,
    sweep_steps: Annotated[int, typer.Option("--sweep-steps", min=1, help="Tasks per sweep run.")] = 200,
    architecture: ArchOpt = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Regenerate every figure into OUT (see the command help)."""
    _need_torch()
    from orchestrator.sim import experiments

    rates = rate or [2.0, 4.0, 6.0, 8.0, 10.0, 11.0]
    names: list[OptimizerName] = []
    for name in optimizer or list(OPTIMIZERS):
        if name not in OPTIMIZERS:
            raise _fail(ConfigError(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}"))
        names.append(name)
    sim, ddpg = _configs(config, architecture=architecture)
    node_counts = nodes or sorted({3, 5, 7, 9} | {sim.n_nodes})
    written: list[Path] = []
    show = not as_json

    main_policy = experiments.policy_path(out, sim.n_nodes)
    if not (out / experiments.EPISODES_CSV).is_file() or not main_policy.is_file():
        with _progress(show, train_trials * episodes, "training (Fig. 1-2)") as advance:
            outputs = experiments.run_training(
                out, sim, ddpg, trials=train_trials, episodes=episodes, steps=steps, seed=seed, on_episode=advance
            )
        written += list(outputs.files)
    else:
        for fig in experiments.redraw_training_figures(out):
            written += [fig.png, fig.csv]

    with _progress(show, len(names) * episodes, "optimizers") as advance:
        runs, fig3 = experiments.run_optimizer_timing(
            out, sim, ddpg, optimizers=names, episodes=episodes, steps=steps, seed=seed, on_episode=advance
        )
    written += [fig3.png, fig3.csv]

    from orchestrator.sim.ddpg import save_policy, train

    paths = {sim.n_nodes: main_policy}
    extra = [n for n in node_counts if n != sim.n_nodes]
    with _progress(show, len(extra) * node_episodes, "policies for the N sweep") as advance:
        for n in extra:
            cell = sim.with_updates(n_nodes=n, arrival_rate_hz=sim.arrival_rate_hz * n / sim.n_nodes)
            result = train(cell, ddpg, episodes=node_episodes, steps=steps, seed=seed, on_episode=advance)
            paths[n] = save_policy(result, experiments.policy_path(out, n))
            written.append(paths[n])

    with _progress(show, len(rates) + len(node_counts), "latency sweeps") as advance:
        data, drawn = experiments.run_sweep(
            out,
            sim,
            policies=experiments.default_policies(True),
            model_paths=paths,
            rates=rates,
            nodes=node_counts,
            runs=trials,
            steps=sweep_steps,
            seed=seed + 1,
            on_cell=lambda axis, value: advance(f"{axis}={value:g}"),
        )
    for fig in drawn:
        written += [fig.png, fig.csv]
    written.append(out / experiments.SWEEP_CSV)
    written.append(
        experiments.write_run_info(
            out,
            command="figures",
            sim_config=sim.model_dump(),
            ddpg_config=ddpg.model_dump(),
            episodes=episodes,
            steps=steps,
            seed=seed,
            optimizers=names,
            rates=rates,
            nodes=node_counts,
            trials=trials,
            node_episodes=node_episodes,
            optimizer_seconds=runs[["optimizer", "seconds"]].to_dict(orient="records"),
        )
    )
    load_rows = data[data["sweep"] == "arrival_rate_hz"].to_dict(orient="records")
    if as_json:
        _emit_json({"files": written, "optimizers": runs.to_dict(orient="records"), "latency_vs_load": load_rows})
        return
    table = Table(title="training time per optimizer")
    for column in ("optimizer", "seconds", "final reward"):
        table.add_column(column, justify="right")
    for row in runs.to_dict(orient="records"):
        table.add_row(str(row["optimizer"]), f"{row['seconds']:.1f}", f"{row['final_reward']:.2f}")
    console.print(table)
    console.print(_summary_table(load_rows, f"latency vs load (N={sim.n_nodes}), {trials} runs per point, 95% CI"))
    for path in written:
        console.print(f"  wrote {path}")
