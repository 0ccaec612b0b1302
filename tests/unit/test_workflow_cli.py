"""CLI input of the live commands: amounts, deadlines, orgs, policies, each refused with one line."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from orchestrator.agent_cli import parse_amount, parse_deadline
from orchestrator.cli import app
from orchestrator.errors import ConfigError


def test_amounts_accept_plain_scientific_and_suffixed_numbers() -> None:
    assert parse_amount("800000000", what="c") == 800_000_000
    assert parse_amount("8e8", what="c") == 800_000_000
    assert parse_amount("800M", what="c") == 800_000_000
    assert parse_amount("16k", what="c") == 16_000
    with pytest.raises(ConfigError, match="invalid cycles '-5': must be at least 1"):
        parse_amount("-5", what="cycles")
    with pytest.raises(ConfigError, match="give a number"):
        parse_amount("lots", what="cycles")


def test_deadlines_are_relative_or_absolute_and_never_past() -> None:
    now = 1_000_000.0
    assert parse_deadline("90", now=now) == 90
    assert parse_deadline("2m", now=now) == 120
    future = dt.datetime.fromtimestamp(now + 300).isoformat()
    assert parse_deadline(future, now=now) == 300
    with pytest.raises(ConfigError, match="is in the past"):
        parse_deadline(dt.datetime.fromtimestamp(now - 5).isoformat(), now=now)
    with pytest.raises(ConfigError, match="not in the future"):
        parse_deadline("-3", now=now)
    with pytest.raises(ConfigError, match="invalid deadline"):
        parse_deadline("tomorrow", now=now)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "task", "--org", "Edge9"], "unknown org 'Edge9'"),
        (["run", "task", "--org", "Cloud"], "Cloud is not an edge org"),
        (["run", "task", "--cycles", "-5"], "invalid cycles '-5'"),
        (["run", "task", "--deadline", "2001-01-01T00:00:00"], "deadline 2001-01-01T00:00:00 is in the past"),
        (["run", "tasks", "--count", "-1"], "invalid workload: count"),
        (["run", "tasks", "--cycles-min", "9e8", "--cycles-max", "1e8"], "cycles_min 900000000 is above"),
        (["run", "tasks", "--requesters", "Edge7"], "unknown org 'Edge7'"),
        (["monitor", "--policy", "oracle"], "unknown selection policy 'oracle'"),
        (["agent", "--org", "Edge9"], "unknown org 'Edge9'"),
    ],
)
def test_bad_arguments_give_one_clear_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.output


def test_the_live_view_renders_edges_tasks_and_latencies() -> None:
    from rich.console import Console

    from orchestrator.agent_cli import render_snapshot
    from orchestrator.monitor import EdgeSample, MonitorSnapshot

    up = EdgeSample(
        "Edge1",
        "Edge1MSP",
        0.0,
        True,
        0.0,
        {"queue_len": 2, "effective_hz": 2.5e9, "backlog_s": 1.5, "running": "run-00042", "background_share": 0.4},
        cpu_pct=87.0,
        mem_mb=60.0,
        net_rx_bps=2048.0,
        peer_healthy=True,
        peer_height=812,
    )
    down = EdgeSample("Edge2", "Edge2MSP", 0.0, False, 0.0, agent_error="does not answer")
    snap = MonitorSnapshot(
        t=0.0,
        policy="auction",
        edges={"Edge1MSP": up, "Edge2MSP": down},
        backlog_cycles={},
        counts={"SETTLED": 7, "AWARDED": 2},
        recent_latencies_s=(2.0, 3.0, 4.0),
        shortlists=9,
        awards=1,
        expiries=0,
        parse_errors=0,
    )
    console = Console(record=True, width=140)
    console.print(render_snapshot(snap, title="view", sent=10, finished=7))
    text = console.export_text()
    assert "Edge1" in text and "2.50" in text and "run-00042"[-8:] in text and "812" in text and "40%" in text
    assert "down" in text
    assert "settled 7" in text and "awarded 2" in text
    assert "p50 3.00 s" in text and "run: 10 sent, 7 finished" in text
