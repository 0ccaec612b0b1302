"""Raft against BFT on the same workload: each consensus gets a fresh network of its own (same
topology but the ordering service), the same benchmark file runs against it, and the two results
folders are reported and overlaid. The user's own network (``mecfab network up``) is not touched."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestrator.bench.config import load_config
from orchestrator.bench.runner import RunObserver, run_benchmark
from orchestrator.errors import ConfigError
from orchestrator.network import NetworkSpec, down, free_port_base, up
from orchestrator.report import Report, build_report, compare
from orchestrator.topology import CONSENSUS_TYPES, Topology

Progress = Callable[[str], None]
PORT_START = 15000  # away from the default network (7000) and the test networks (27000+)


def _quiet(_: str) -> None:
    return None


class _Phases(RunObserver):
    def __init__(self, progress: Progress, tag: str) -> None:
        self.progress, self.tag = progress, tag

    def phase(self, message: str) -> None:
        self.progress(f"{self.tag}: {message}")

    def warning(self, message: str) -> None:
        self.progress(f"{self.tag}: warning: {message}")


def compare_consensus(
    config_path: Path,
    topology: Topology,
    out: Path,
    *,
    consensuses: Sequence[str] = ("etcdraft", "bft"),
    version: str | None = None,
    progress: Progress = _quiet,
) -> Report:
    """Run ``config_path`` on a fresh network per consensus; returns the comparison written to
    ``out/compare``, next to ``out/<consensus>`` (each a full results folder with its report)."""
    unknown = [c for c in consensuses if c not in CONSENSUS_TYPES]
    if unknown or len(consensuses) != 2 or consensuses[0] == consensuses[1]:
        raise ConfigError(f"compare two different consensus types of {', '.join(CONSENSUS_TYPES)}, not {consensuses}")
    bench = load_config(config_path)  # a bad benchmark file fails before any network starts
    folders = []
    for consensus in consensuses:
        t = topology.with_overrides(consensus=consensus)
        t = t.with_overrides(port_base=free_port_base(t, start=PORT_START))
        root = Path(tempfile.mkdtemp(prefix=f"mecfab-{consensus}-"))
        spec = NetworkSpec.isolated(root, project=f"mecfab-cmp-{consensus}-{os.getpid()}", topology=t, version=version)
        folder = out / consensus
        try:
            progress(f"{consensus}: a fresh network of {len(t.orderers_nodes)} orderers and {len(t.peer_nodes)} peers")
            up(spec, progress=lambda m, c=consensus: progress(f"{c}: {m}"))  # type: ignore[misc]
            run_benchmark(bench, spec, folder, observer=_Phases(progress, consensus), config_source=config_path)
        finally:
            down(spec)
        build_report(folder)
        folders.append(folder)
    return compare(folders[0], folders[1], out / "compare")
