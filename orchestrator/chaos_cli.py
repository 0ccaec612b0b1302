"""``mecfab chaos``: faults under load, one at a time or the whole campaign."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from orchestrator.chaos import FAULTS, ScenarioResult, run_scenario
from orchestrator.cli_common import JsonOpt, console, emit_json, out, progress, run, spec
from orchestrator.errors import MecFabError
from orchestrator.workflow.fleet import AgentFleet

chaos_app = typer.Typer(no_args_is_help=True)
TpsOpt = Annotated[float, typer.Option(min=0.5, max=200, help="Light load while the fault happens, tx/s.")]
BeforeOpt = Annotated[float, typer.Option(min=2, help="Seconds of load before the fault (the baseline).")]
FaultOpt = Annotated[float, typer.Option("--fault", min=1, help="Seconds the fault lasts before it is healed.")]
AfterOpt = Annotated[float, typer.Option(min=5, help="Seconds of load after the heal.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Results folder (default results/chaos/<time>).")]
COLUMNS = (
    "fault",
    "sent",
    "committed",
    "failed_during_fault",
    "leader_change_s",
    "recovery_s",
    "lost",
    "phantom",
    "peers_agree",
    "audit_ok",
)


def _out(path: Path | None) -> Path:
    return path or Path("results") / "chaos" / time.strftime("%Y%m%d-%H%M%S")


def _table(results: list[ScenarioResult]) -> Table:
    table = Table(title="faults under load")
    for col in COLUMNS:
        table.add_column(col)
    for r in results:
        row = dataclasses.asdict(r)
        table.add_row(*("-" if row[c] is None else str(row[c]) for c in COLUMNS))
    return table


@chaos_app.command("list")
def list_faults() -> None:
    """The faults that can be injected."""
    for name, cls in sorted(FAULTS.items()):
        out.print(f"{name:<20} {cls.summary}", highlight=False)


@chaos_app.command("run")
def run_one(
    fault: Annotated[str, typer.Argument(help="A fault from `mecfab chaos list`.")],
    tps: TpsOpt = 5.0,
    before: BeforeOpt = 10.0,
    fault_s: FaultOpt = 10.0,
    after: AfterOpt = 20.0,
    out_dir: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Inject one fault into the running network under light load; check nothing acknowledged is lost."""
    folder = _out(out_dir) / fault
    result = run(
        lambda: run_scenario(
            spec(), fault, out=folder, tps=tps, before_s=before, fault_s=fault_s, after_s=after, progress=progress
        )
    )
    if as_json:
        emit_json(dataclasses.asdict(result))
    else:
        out.print(_table([result]))
    if not (result.audit_ok and result.lost == 0 and result.peers_agree):
        raise typer.Exit(1)


@chaos_app.command("campaign")
def campaign(
    tps: TpsOpt = 5.0,
    before: BeforeOpt = 10.0,
    fault_s: FaultOpt = 10.0,
    after: AfterOpt = 25.0,
    out_dir: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every fault in turn; writes campaign.csv and campaign.md (the table the report includes)."""
    folder = _out(out_dir)
    network = spec()
    agents = AgentFleet(network).running()
    results = []
    errors: dict[str, str] = {}
    for name in sorted(FAULTS):
        if FAULTS[name].needs_agents and not agents:
            progress(f"--- {name}: skipped (no edge agents running; `mecfab run agents` first)")
            continue
        progress(f"--- {name}")
        try:
            results.append(
                run_scenario(
                    network,
                    name,
                    out=folder / name,
                    tps=tps,
                    before_s=before,
                    fault_s=fault_s,
                    after_s=after,
                    progress=progress,
                )
            )
        except MecFabError as exc:  # one fault that cannot run does not cancel the others
            errors[name] = str(exc)
            console.print(f"[bold red]error:[/] {name}: {escape(str(exc))}", highlight=False)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [dataclasses.asdict(r) for r in results]
    lines = [",".join(COLUMNS)] + [",".join("" if r[c] is None else str(r[c]) for c in COLUMNS) for r in rows]
    (folder / "campaign.csv").write_text("\n".join(lines) + "\n")
    md = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    md += ["| " + " | ".join("-" if r[c] is None else str(r[c]) for c in COLUMNS) + " |" for r in rows]
    (folder / "campaign.md").write_text("\n".join(md) + "\n")
    if as_json:
        emit_json(rows)
    else:
        out.print(_table(results))
        out.print(f"written: {folder / 'campaign.csv'}, {folder / 'campaign.md'}")
    if errors:
        (folder / "errors.json").write_text(json.dumps(errors, indent=2) + "\n")
        raise typer.Exit(1)
