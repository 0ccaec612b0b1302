"""Self-contained HTML pages (plain HTML + inline CSS; images are PNG files beside the page)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

__all__ = ["compare_page", "report_page"]

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;
padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f4f4f4}
td.l,th.l{text-align:left}.muted{color:#777}.warn{color:#a15c00}
figure{display:inline-block;margin:.5rem}figure img{max-width:560px;border:1px solid #eee}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;font-size:.9rem}dt{font-weight:600}
"""


def _fmt(value: Any, digits: int = 1, scale: float = 1.0, suffix: str = "") -> str:
    if value is None:
        return "–"
    try:
        return f"{float(value) * scale:,.{digits}f}{suffix}"
    except (TypeError, ValueError):
        return escape(str(value))


def _ms(value: Any) -> str:
    return _fmt(value, 1, 1000.0)


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, left: int = 1) -> str:
    head = "".join(
        f'<th class="l">{escape(h)}</th>' if i < left else f"<th>{escape(h)}</th>" for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="l">{c}</td>' if i < left else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figures(images: Sequence[tuple[str, str]]) -> str:
    return "".join(
        f'<figure><img src="{escape(src)}" alt="{escape(caption)}"><figcaption>{escape(caption)}</figcaption></figure>'
        for src, caption in images
    )


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n"
    )


def _facts(summary: dict[str, Any], config: dict[str, Any]) -> str:
    git = summary.get("git") or {}
    host = summary.get("host") or {}
    docker = host.get("docker") or {}
    commit = str(git.get("commit") or "?")[:12] + (" (uncommitted changes)" if git.get("dirty") else "")
    items = [
        ("benchmark", f"{summary['name']} — {config.get('description', '')}"),
        ("started", summary.get("started") or "?"),
        ("Fabric", summary.get("fabric_version") or "?"),
        ("consensus", summary.get("consensus") or "?"),
        ("git commit", commit),
        (
            "host",
            f"{host.get('cpu_model', '?')}, {host.get('cpu_count', '?')} cores, {host.get('mem_total_gb', '?')} GB",
        ),
        (
            "software",
            f"{host.get('platform', '?')}; Docker {docker.get('version', '?')}; Python {host.get('python', '?')},"
            f" grpcio {host.get('grpcio', '?')}",
        ),
        ("load generator", f"{config.get('workers', '?')} worker process(es), clients {config.get('clients', {})}"),
    ]
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in items) + "</dl>"


def _rounds_table(rounds: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in rounds:
        lat = r["latency_s"]
        rows.append(
            [
                escape(str(r["label"])),
                escape(str(r["workload"])),
                "closed" if r["closed_loop"] else "open",
                _fmt(r["input_rate_tps"]),
                _fmt(r["send_rate_tps"]),
                f"<b>{_fmt(r['throughput_tps'])}</b>",
                str(r["sent"]),
                str(r["succeeded"]),
                str(r["failed"]),
                _ms(lat["min"]),
                _ms(lat["avg"]),
                _ms(lat["p50"]),
                _ms(lat["p95"]),
                _ms(lat["p99"]),
                _ms(lat["max"]),
            ]
        )
    headers = [
        "round",
        "workload",
        "loop",
        "input tx/s",
        "send tx/s",
        "throughput tx/s",
        "sent",
        "ok",
        "failed",
        "min ms",
        "avg ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
    ]
    return _table(headers, rows, left=3)


def _phases_table(rounds: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in rounds:
        phases = r.get("phases_s")
        if not phases:
            continue
        row = [escape(str(r["label"]))]
        for phase in ("endorse", "order", "commit"):
            row += [_ms(phases[phase]["avg"]), _ms(phases[phase]["p50"]), _ms(phases[phase]["p99"])]
        row += [str(r.get("blocks", "–")), _fmt(r.get("avg_tx_per_block"))]
        rows.append(row)
    if not rows:
        return '<p class="muted">no write rounds</p>'
    headers = ["round"] + [f"{p} {s} ms" for p in ("endorse", "order", "commit") for s in ("avg", "p50", "p99")]
    return _table([*headers, "blocks", "tx/block"], rows)


def _resources_table(rounds: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in rounds:
        res = r.get("resources") or {}
        row = [escape(str(r["label"])), _fmt(r["input_rate_tps"])]
        for role in ("peer", "orderer", "chaincode"):
            row.append(_fmt(_get(res, "roles", role, "cpu_pct_avg")))
        for role in ("peer", "orderer", "chaincode"):
            row.append(_fmt(_get(res, "roles", role, "mem_mb_avg")))
        row += [_fmt(res.get("host_cpu_pct")), _fmt(res.get("loadgen_cpu_pct")), _fmt(res.get("other_cpu_pct"))]
        rows.append(row)
    headers = [
        "round",
        "input tx/s",
        "peer CPU %",
        "orderer CPU %",
        "chaincode CPU %",
        "peer MB",
        "orderer MB",
        "chaincode MB",
        "host CPU %",
        "load generator CPU %",
        "other CPU %",
    ]
    return _table(headers, rows) + (
        '<p class="muted">CPU in % of one core and memory in MB, per container (mean over the containers of a '
        "role); host CPU over all cores (200 % = both of two cores busy); other = host − the containers − the load "
        "generator (the Docker daemon and any other work on the machine).</p>"
    )


def _loadgen_table(rounds: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in rounds:
        gen = r["loadgen"]
        lag = r.get("schedule_lag_s") or {}
        rows.append(
            [
                escape(str(r["label"])),
                str(gen["workers"]),
                _fmt(gen["cpu_s"], 2),
                _fmt(gen["cpu_ms_per_tx"], 2),
                _fmt(gen["max_worker_utilization"], 0, 100.0, " %"),
                _ms(lag.get("p50")),
                _ms(lag.get("p95")),
                str(gen["in_flight_waits"]),
                str(gen["max_in_flight_seen"]),
            ]
        )
    headers = [
        "round",
        "workers",
        "CPU s",
        "CPU ms / ok tx",
        "busiest worker",
        "lag p50 ms",
        "lag p95 ms",
        "in-flight cap waits",
        "max in flight",
    ]
    return _table(headers, rows)


def _fabric_table(rounds: Sequence[dict[str, Any]]) -> str:
    rows = []
    for r in rounds:
        fab = r.get("fabric") or {}
        peers = list((fab.get("peers") or {}).values())

        def mean(key: str, items: list[dict[str, Any]] = peers) -> float | None:
            vals = [p[key] for p in items if p.get(key) is not None]
            return sum(vals) / len(vals) if vals else None

        rows.append(
            [
                escape(str(r["label"])),
                _fmt(mean("blocks"), 0),
                _ms(mean("endorse_s")),
                _ms(mean("block_processing_s")),
                _ms(mean("statedb_commit_s")),
                escape(str(fab.get("raft_leader") or "–")),
            ]
        )
    headers = [
        "round",
        "blocks (peer avg)",
        "endorse ms (peer metric)",
        "block processing ms",
        "state DB commit ms",
        "Raft leader",
    ]
    return _table(headers, rows)


def _details(rounds: Sequence[dict[str, Any]]) -> str:
    parts = []
    for r in rounds:
        statuses = ", ".join(f"{escape(k)}: {v}" for k, v in r["statuses"].items())
        codes = ", ".join(f"{escape(k)}: {v}" for k, v in (r.get("validation_codes") or {}).items())
        errors = "".join(f"<li>{e['count']} × {escape(e['error'])}</li>" for e in r["top_errors"])
        parts.append(
            f"<h3>{escape(str(r['label']))}</h3><p>rate {escape(str(r['rate']))}; statuses {statuses}"
            + (f"; validation codes {codes}" if codes else "")
            + "</p>"
            + (f"<ul>{errors}</ul>" if errors else "")
        )
    return "".join(parts)


DEFINITIONS = """
<ul>
<li><b>Throughput</b> (writes) counts committed <i>valid</i> transactions only: valid / (last commit − first send).
Reads: answered reads / (last answer − first send).</li>
<li><b>Send rate</b>: (sent − 1) / (last send − first send). An open schedule keeps it at the target until the client
or the network cannot follow.</li>
<li><b>Latency</b>: proposal built → commit status received (transaction latency), or → answer received (read
latency); successful transactions only. Phases: endorse, order (the orderer accepted it), commit.</li>
<li><b>Load-generator CPU</b>: CPU time of the worker processes and the parent over the round, per successful
transaction.</li>
</ul>
"""


def report_page(summary: dict[str, Any], config: dict[str, Any], images: Sequence[tuple[str, str]]) -> str:
    """The report of one results folder."""
    rounds = summary["rounds"]
    findings = summary.get("findings") or []
    overall = summary["overall"]
    findings_html = (
        "<ul>" + "".join(f'<li class="warn">{escape(f)}</li>' for f in findings) + "</ul>"
        if findings
        else '<p class="muted">none: the network, not the load generator, set the pace, and nothing failed</p>'
    )
    body = (
        f"<h1>Benchmark {escape(summary['name'])}</h1>"
        f'<p class="muted">{escape(str(summary.get("folder", "")))}</p>'
        + _facts(summary, config)
        + "<h2>Headline</h2>"
        + _table(
            ["sent", "ok", "failed", "max write throughput tx/s", "max read throughput /s", "load generator CPU ms/tx"],
            [
                [
                    str(overall["sent"]),
                    str(overall["succeeded"]),
                    str(overall["failed"]),
                    _fmt(overall["max_write_throughput_tps"]),
                    _fmt(overall["max_read_throughput_tps"]),
                    _fmt(overall["loadgen_cpu_ms_per_tx"], 2),
                ]
            ],
            left=0,
        )
        + "<h2>Findings</h2>"
        + findings_html
        + "<h2>Rounds</h2>"
        + _rounds_table(rounds)
        + "<h2>Figures</h2>"
        + _figures(images)
        + "<h2>Write phases</h2>"
        + _phases_table(rounds)
        + "<h2>Resources</h2>"
        + _resources_table(rounds)
        + "<h2>Load generator</h2>"
        + _loadgen_table(rounds)
        + "<h2>Fabric metrics</h2>"
        + _fabric_table(rounds)
        + "<h2>Definitions</h2>"
        + DEFINITIONS
        + "<h2>Round details</h2>"
        + _details(rounds)
    )
    return _page(f"Benchmark {summary['name']}", body)


def _setup(summary: dict[str, Any]) -> str:
    return f"Fabric {summary.get('fabric_version')}, {summary.get('consensus') or '?'} ordering"


def compare_page(
    a: dict[str, Any],
    b: dict[str, Any],
    pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]],
    images: Sequence[tuple[str, str]],
    *,
    label: Callable[[dict[str, Any]], str],
) -> str:
    """Two results folders side by side: matched rounds, the relative change, and overlaid figures."""

    def change(x: Any, y: Any) -> str:
        if x in (None, 0) or y is None:
            return "–"
        return f"{(float(y) - float(x)) / float(x) * 100:+.1f} %"

    rows = []
    for ra, rb in pairs:
        rows.append(
            [
                escape(str(ra["label"])),
                _fmt(ra["input_rate_tps"]),
                _fmt(ra["throughput_tps"]),
                _fmt(rb["throughput_tps"]),
                change(ra["throughput_tps"], rb["throughput_tps"]),
                _ms(ra["latency_s"]["avg"]),
                _ms(rb["latency_s"]["avg"]),
                change(ra["latency_s"]["avg"], rb["latency_s"]["avg"]),
                _ms(ra["latency_s"]["p99"]),
                _ms(rb["latency_s"]["p99"]),
                _fmt(_get(ra, "resources", "roles", "peer", "cpu_pct_avg")),
                _fmt(_get(rb, "resources", "roles", "peer", "cpu_pct_avg")),
                _fmt(_get(ra, "resources", "roles", "peer", "mem_mb_avg")),
                _fmt(_get(rb, "resources", "roles", "peer", "mem_mb_avg")),
            ]
        )
    headers = [
        "round",
        "input tx/s",
        "A tx/s",
        "B tx/s",
        "Δ tx/s",
        "A avg ms",
        "B avg ms",
        "Δ avg",
        "A p99 ms",
        "B p99 ms",
        "A peer CPU %",
        "B peer CPU %",
        "A peer MB",
        "B peer MB",
    ]
    body = (
        f"<h1>Compare: A = {escape(label(a))}, B = {escape(label(b))}</h1>"
        f"<dl><dt>A</dt><dd>{escape(str(a.get('folder')))} — {escape(_setup(a))}</dd>"
        f"<dt>B</dt><dd>{escape(str(b.get('folder')))} — {escape(_setup(b))}</dd></dl>"
        "<h2>Matched rounds</h2>"
        + (_table(headers, rows) if rows else '<p class="muted">no rounds in common</p>')
        + "<h2>Figures</h2>"
        + _figures(images)
        + "<h2>Findings</h2><ul>"
        + "".join(f'<li class="warn">A: {escape(f)}</li>' for f in a.get("findings") or [])
        + "".join(f'<li class="warn">B: {escape(f)}</li>' for f in b.get("findings") or [])
        + "</ul>"
    )
    return _page("Compare benchmarks", body)
