"""The numbers: per-round statistics from the raw records, resources and load-generator counters.

Definitions (the paper's, after Caliper and the Fabric performance white paper):

* **transaction throughput** = committed *valid* transactions / (last commit − first send) of the round;
* **read throughput** = answered reads / (last answer − first send);
* **send rate** = (sent − 1) / (last send − first send): equals the target of an open schedule until
  the client cannot keep up;
* **latency** = end − start of each successful transaction: proposal built → commit status received
  (writes, *transaction latency*), or → answer received (reads, *read latency*);
* **phases** of a write: endorse = endorsed − start, order = submitted − endorsed (the orderer
  accepted it), commit = end − submitted (until the peer reported the block's validation);
* percentiles are linear interpolation (``numpy.percentile``'s default).

Times are in seconds throughout; the HTML shows milliseconds.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from orchestrator.report.load import Results

__all__ = [
    "FINDING_THRESHOLDS",
    "fabric_summary",
    "latency_stats",
    "loadgen_summary",
    "resource_summary",
    "round_summary",
    "summarize",
]

SUCCESS = ("valid", "ok")
ROLES = ("orderer", "peer", "chaincode")
PHASES = ("endorse", "order", "commit")
FINDING_THRESHOLDS = {
    "worker_busy": 0.90,  # CPU seconds per wall second of one worker process
    "lag_p95_s": 0.025,  # schedule lag that means the sender fell behind
    "send_rate_shortfall": 0.95,  # achieved / target send rate
    "host_busy_pct": 95.0,  # % of all cores
    "other_cpu_pct": 50.0,  # % of one core used outside the network's containers and the load generator
}


def _num(value: Any) -> float | None:
    """A JSON-safe float (None for NaN/inf)."""
    if value is None:
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def latency_stats(values: pd.Series | np.ndarray | list[float]) -> dict[str, float | None]:
    """count, min, avg, max, p50, p95, p99 of ``values`` (NaNs dropped); Nones when empty."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"count": 0, "min": None, "avg": None, "max": None, "p50": None, "p95": None, "p99": None}
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "count": int(arr.size),
        "min": float(arr.min()),
        "avg": float(arr.mean()),
        "max": float(arr.max()),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
    }


def _rate(count: int, first: float, last: float) -> float | None:
    span = last - first
    return count / span if count > 0 and span > 0 else None


def round_summary(records: pd.DataFrame, meta: dict[str, Any]) -> dict[str, Any]:
    """Statistics of one round from its records and its ``rounds.json`` entry."""
    kind = str(meta.get("kind") or (records["kind"].iloc[0] if len(records) else "submit"))
    sent = len(records)
    ok_mask = records["status"].isin(SUCCESS)
    ok = records[ok_mask]
    statuses = Counter(str(s) for s in records["status"])
    starts = records["start"].to_numpy(dtype=float)
    first_start = float(np.nanmin(starts)) if sent else math.nan
    last_start = float(np.nanmax(starts)) if sent else math.nan
    send_rate = (sent - 1) / (last_start - first_start) if sent > 1 and last_start > first_start else None
    last_end = float(np.nanmax(ok["end"].to_numpy(dtype=float))) if len(ok) else math.nan
    throughput = _rate(len(ok), first_start, last_end)
    nominal = _num(meta.get("nominal_tps"))
    latency = latency_stats(ok["end"] - ok["start"])
    summary: dict[str, Any] = {
        "label": meta.get("label"),
        "index": meta.get("index"),
        "workload": meta.get("workload"),
        "kind": kind,
        "rate": meta.get("rate"),
        "closed_loop": bool(meta.get("closed")),
        "target_tps": nominal,
        "input_rate_tps": nominal if nominal is not None else send_rate,
        "sent": sent,
        "succeeded": len(ok),
        "failed": sent - len(ok),
        "statuses": dict(sorted(statuses.items())),
        "send_rate_tps": send_rate,
        "throughput_tps": throughput,
        "latency_s": latency,
        "duration_s": _num(last_end - first_start) if len(ok) else None,
    }
    if kind == "submit":
        valid = ok
        summary["phases_s"] = {
            "endorse": latency_stats(valid["endorsed"] - valid["start"]),
            "order": latency_stats(valid["submitted"] - valid["endorsed"]),
            "commit": latency_stats(valid["end"] - valid["submitted"]),
        }
        blocks = valid["block"][valid["block"] >= 0]
        summary["blocks"] = int(blocks.nunique())
        summary["avg_tx_per_block"] = _num(len(blocks) / blocks.nunique()) if blocks.nunique() else None
        codes = Counter(str(v) for v in records["validation"] if v)
        summary["validation_codes"] = dict(sorted(codes.items()))
    lag = records["start"] - records["scheduled"]
    summary["schedule_lag_s"] = latency_stats(lag) if not bool(meta.get("closed")) else None
    errors = Counter(str(e) for e in records.loc[~ok_mask, "error"] if e)
    summary["top_errors"] = [{"error": e, "count": n} for e, n in errors.most_common(5)]
    return summary


def resource_summary(resources: pd.DataFrame, start: float, end: float) -> dict[str, Any]:
    """CPU and memory of each container over ``[start, end]``, and per role (orderer, peer, chaincode).

    CPU % comes from the cumulative CPU seconds: (last − the sample at or before ``start``) / elapsed.
    Memory is the mean (and max) of the samples in the window.
    """
    if resources.empty:
        return {"containers": {}, "roles": {}, "host_cpu_pct": None, "loadgen_cpu_pct": None}
    containers: dict[str, Any] = {}
    for name, group in resources.groupby("container", sort=True):
        g = group.sort_values("t")
        t = g["t"].to_numpy(dtype=float)
        inside = (t >= start) & (t <= end)
        if not inside.any():
            continue
        before = np.nonzero(t < start)[0]
        idx_first = int(before[-1]) if before.size else int(np.nonzero(inside)[0][0])
        idx_last = int(np.nonzero(inside)[0][-1])
        cpu_s = g["cpu_s"].to_numpy(dtype=float)
        elapsed = t[idx_last] - t[idx_first]
        if elapsed > 0:
            cpu_pct = (cpu_s[idx_last] - cpu_s[idx_first]) / elapsed * 100.0
        else:
            cpu_pct = float(g["cpu_pct"].to_numpy(dtype=float)[inside].mean())
        mem = g["mem_mb"].to_numpy(dtype=float)[inside]
        rx = g["net_rx_bytes"].to_numpy(dtype=float)
        tx = g["net_tx_bytes"].to_numpy(dtype=float)
        containers[str(name)] = {
            "role": str(g["role"].iloc[0]),
            "cpu_pct": _num(cpu_pct),
            "mem_mb_avg": _num(mem.mean()),
            "mem_mb_max": _num(mem.max()),
            "net_rx_mb": _num((rx[idx_last] - rx[idx_first]) / 2**20),
            "net_tx_mb": _num((tx[idx_last] - tx[idx_first]) / 2**20),
            "samples": int(inside.sum()),
        }
    roles: dict[str, Any] = {}
    for role in ROLES:
        members = [c for c in containers.values() if c["role"] == role]
        if not members:
            continue
        cpus = [c["cpu_pct"] for c in members if c["cpu_pct"] is not None]
        mems = [c["mem_mb_avg"] for c in members if c["mem_mb_avg"] is not None]
        roles[role] = {
            "containers": len(members),
            "cpu_pct_avg": _num(np.mean(cpus)) if cpus else None,  # per container
            "cpu_pct_total": _num(np.sum(cpus)) if cpus else None,
            "mem_mb_avg": _num(np.mean(mems)) if mems else None,  # per container
            "mem_mb_total": _num(np.sum(mems)) if mems else None,
        }
    host = containers.pop("host", None)
    loadgen = containers.pop("loadgen", None)
    ours = sum(c["cpu_pct"] or 0.0 for c in containers.values()) + ((loadgen or {}).get("cpu_pct") or 0.0)
    return {
        "containers": containers,
        "roles": roles,
        "host_cpu_pct": host["cpu_pct"] if host else None,
        # the Docker daemon and whatever else ran on the machine
        "other_cpu_pct": _num(max(0.0, host["cpu_pct"] - ours)) if host and host["cpu_pct"] is not None else None,
        "loadgen_cpu_pct": loadgen["cpu_pct"] if loadgen else None,
        "loadgen_mem_mb": loadgen["mem_mb_avg"] if loadgen else None,
    }


def loadgen_summary(meta: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """The load generator's own CPU for one round: total, per successful transaction, per worker."""
    workers = list(meta.get("workers") or [])
    worker_cpu_s = float(sum(w.get("cpu_s", 0.0) for w in workers))
    parent_cpu_s = float(meta.get("main_cpu_s") or 0.0)  # coordination and the resource sampler
    cpu_s = worker_cpu_s + parent_cpu_s
    utilization = []
    for w in workers:
        wall = float(w.get("finished", 0.0)) - float(w.get("start_at", 0.0))
        utilization.append(float(w.get("cpu_s", 0.0)) / wall if wall > 0 else math.nan)
    ok = int(summary.get("succeeded") or 0)
    return {
        "workers": len(workers),
        "cpu_s": cpu_s,
        "worker_cpu_s": worker_cpu_s,
        "parent_cpu_s": parent_cpu_s,
        "cpu_ms_per_tx": _num(cpu_s / ok * 1000) if ok else None,
        "cpu_s_per_1000_tx": _num(cpu_s / ok * 1000) if ok else None,
        "worker_utilization": [_num(u) for u in utilization],
        "max_worker_utilization": _num(max(utilization)) if utilization else None,
        "in_flight_waits": int(sum(int(w.get("in_flight_waits", 0)) for w in workers)),
        "max_in_flight_seen": int(max((int(w.get("max_in_flight_seen", 0)) for w in workers), default=0)),
    }


def findings(summary: dict[str, Any]) -> list[str]:
    """Plain-language warnings about one round (who was the limit, what failed)."""
    out: list[str] = []
    label = summary["label"]
    gen = summary["loadgen"]
    busy = gen.get("max_worker_utilization")
    if busy is not None and busy >= FINDING_THRESHOLDS["worker_busy"]:
        out.append(
            f"{label}: a load-generator worker was busy {busy:.0%} of one core: the client, not the network, "
            "may be the limit (add workers)"
        )
    lag = summary.get("schedule_lag_s") or {}
    if (lag.get("p95") or 0) > FINDING_THRESHOLDS["lag_p95_s"] and gen.get("in_flight_waits", 0) == 0:
        late = f"{label}: sends fell behind the schedule (p95 lag {lag['p95'] * 1000:.0f} ms)"
        if busy is not None and busy >= FINDING_THRESHOLDS["worker_busy"] / 2:
            out.append(f"{late}: the load generator could not keep the rate (add workers)")
        else:
            out.append(
                f"{late} while the load generator was mostly idle: its processes waited for a CPU the network "
                "(or other work on the machine) held"
            )
    if gen.get("in_flight_waits", 0) > 0:
        out.append(
            f"{label}: the max_in_flight cap was reached {gen['in_flight_waits']} times: the network was saturated "
            "and the open schedule became a closed loop"
        )
    target, achieved = summary.get("target_tps"), summary.get("send_rate_tps")
    if (
        not summary.get("closed_loop")
        and target
        and achieved
        and achieved < FINDING_THRESHOLDS["send_rate_shortfall"] * target
    ):
        out.append(f"{label}: sent at {achieved:.1f} tx/s, below the target {target:.1f} tx/s")
    host = (summary.get("resources") or {}).get("host_cpu_pct")
    cores = summary.get("host_cores") or 1
    if host is not None and host >= FINDING_THRESHOLDS["host_busy_pct"] * cores:
        lg = (summary.get("resources") or {}).get("loadgen_cpu_pct")
        share = f" (the load generator used {lg:.0f}% of one core)" if lg is not None else ""
        out.append(f"{label}: the machine's CPUs were saturated{share}: network and client compete for them")
    other = (summary.get("resources") or {}).get("other_cpu_pct")
    if other is not None and other >= FINDING_THRESHOLDS["other_cpu_pct"]:
        out.append(
            f"{label}: {other:.0f}% of one core went to processes outside the network and the load generator "
            "(the Docker daemon, other work on the machine): not the numbers of a quiet machine"
        )
    if summary["failed"]:
        top = summary["top_errors"][0]["error"] if summary["top_errors"] else "see the records"
        out.append(f"{label}: {summary['failed']} of {summary['sent']} failed; most often: {top}")
    return out


def fabric_summary(snapshots: dict[str, Any], topology_channel: str | None = None) -> dict[str, Any]:
    """Block height gained, endorsement and block-commit durations, and the Raft leader, from before/after."""
    before = (snapshots.get("before") or {}).get("nodes") or {}
    after = (snapshots.get("after") or {}).get("nodes") or {}

    def value(samples: list[dict[str, Any]], name: str, **labels: str) -> float | None:
        total, found = 0.0, False
        for s in samples:
            if s["name"] == name and all(s["labels"].get(k) == v for k, v in labels.items()):
                total += float(s["value"])
                found = True
        return total if found else None

    def mean_delta(node: str, base: str) -> float | None:
        b, a = before.get(node, []), after.get(node, [])
        s1, s0 = value(a, base + "_sum"), value(b, base + "_sum")
        c1, c0 = value(a, base + "_count"), value(b, base + "_count")
        if None in (s1, s0, c1, c0):
            return None
        assert s1 is not None and s0 is not None and c1 is not None and c0 is not None
        return (s1 - s0) / (c1 - c0) if c1 > c0 else None

    peers: dict[str, Any] = {}
    orderers: dict[str, Any] = {}
    leader = None
    for node, samples in after.items():
        if value(samples, "consensus_etcdraft_is_leader") is not None:
            if value(samples, "consensus_etcdraft_is_leader") == 1:
                leader = node
            orderers[node] = {
                "committed_block": value(samples, "consensus_etcdraft_committed_block_number"),
                "broadcast_validate_s": mean_delta(node, "broadcast_validate_duration"),
            }
        else:
            h1 = value(samples, "ledger_blockchain_height")
            h0 = value(before.get(node, []), "ledger_blockchain_height")
            peers[node] = {
                "height": h1,
                "blocks": (h1 - h0) if h1 is not None and h0 is not None else None,
                "endorse_s": mean_delta(node, "endorser_proposal_duration"),
                "block_processing_s": mean_delta(node, "ledger_block_processing_time"),
                "statedb_commit_s": mean_delta(node, "ledger_statedb_commit_time"),
            }
    return {"raft_leader": leader, "peers": peers, "orderers": orderers}


def summarize(results: Results) -> dict[str, Any]:
    """The whole summary JSON of a results folder."""
    rounds = []
    all_findings: list[str] = []
    cores = int((results.meta.get("host") or {}).get("cpu_count") or 1)
    for meta in results.rounds:
        label = meta["label"]
        records = results.records[results.records["round"] == label]
        summary = round_summary(records, meta)
        summary["host_cores"] = cores
        summary["resources"] = resource_summary(results.resources, float(meta["start"]), float(meta["end"]))
        summary["loadgen"] = loadgen_summary(meta, summary)
        summary["fabric"] = fabric_summary(results.fabric_metrics.get(label) or {})
        summary["findings"] = findings(summary)
        all_findings.extend(summary["findings"])
        rounds.append(summary)
    writes = [r for r in rounds if r["kind"] == "submit" and r["throughput_tps"] is not None]
    reads = [r for r in rounds if r["kind"] == "evaluate" and r["throughput_tps"] is not None]
    total_ok = sum(r["succeeded"] for r in rounds)
    total_cpu = sum(r["loadgen"]["cpu_s"] for r in rounds)
    overall = {
        "rounds": len(rounds),
        "sent": sum(r["sent"] for r in rounds),
        "succeeded": total_ok,
        "failed": sum(r["failed"] for r in rounds),
        "max_write_throughput_tps": max((r["throughput_tps"] for r in writes), default=None),
        "max_read_throughput_tps": max((r["throughput_tps"] for r in reads), default=None),
        "loadgen_cpu_s": total_cpu,
        "loadgen_cpu_ms_per_tx": _num(total_cpu / total_ok * 1000) if total_ok else None,
    }
    return {
        "name": results.name,
        "folder": str(results.folder),
        "fabric_version": results.fabric_version,
        "consensus": results.consensus,
        "git": results.meta.get("git"),
        "host": results.meta.get("host"),
        "started": results.meta.get("started"),
        "complete": results.meta.get("complete"),
        "overall": overall,
        "findings": all_findings,
        "rounds": rounds,
    }
