"""network.up's steps without Docker: act-first joins/installs/approvals (one CLI call per org and
step, the state queried only when the act fails) and a majority of the orgs endorsing the commit."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from orchestrator import network
from orchestrator.fabric_tools import ToolError
from orchestrator.network import NetworkSpec
from orchestrator.topology import Node, load_topology


class FakeTools:
    """Records peer CLI calls; ``fail`` maps a subcommand (join, install, approveformyorg) to the orgs
    whose act fails, and ``done`` says whether the follow-up query then finds it done."""

    def __init__(self, *, fail: dict[str, set[str]] | None = None, done: bool = True) -> None:
        self.fail = fail or {}
        self.done = done
        self.calls: list[tuple[str, list[str]]] = []
        self.queries: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def peer(self, state: Any, peer: Node, args: Sequence[str], timeout: float = 120) -> str:
        with self.lock:
            self.calls.append((peer.org.name, list(args)))
        sub = args[1] if args[0] == "channel" else args[2]
        if peer.org.name in self.fail.get(sub, set()):
            raise ToolError("peer", args, f"{sub} failed for {peer.org.name}")
        return ""

    def committed(self, state: Any, peer: Node, *, channel: str, name: str) -> dict[str, Any] | None:
        return None

    def peer_channels(self, state: Any, peer: Node) -> list[str]:
        self.queries.append(("channels", peer.org.name))
        return ["mec"] if self.done else []

    def installed_packages(self, state: Any, peer: Node) -> list[str]:
        self.queries.append(("installed", peer.org.name))
        return [self.package_id] if self.done else []

    def approvals(self, state: Any, peer: Node, *, channel: str, definition: Sequence[str]) -> dict[str, bool]:
        self.queries.append(("approvals", peer.org.name))
        return {peer.org.msp_id: self.done}

    def orderer_flags(self, state: Any, orderer: Node) -> list[str]:
        return ["-o", f"127.0.0.1:{orderer.host_port}"]

    package_id = ""


def _spec(tmp_path: Path, edges: int) -> NetworkSpec:
    return NetworkSpec.isolated(tmp_path, project="unit", topology=load_topology().with_overrides(edges=edges))


def _commit_peers(tools: FakeTools) -> list[str]:
    (commit,) = [args for _, args in tools.calls if args[:3] == ["lifecycle", "chaincode", "commit"]]
    return [commit[i + 1] for i, a in enumerate(commit) if a == "--peerAddresses"]


def test_deploy_is_one_call_per_org_and_step_and_a_majority_commits(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 16)
    tools = FakeTools()
    network.deploy_chaincode(spec, tools)  # type: ignore[arg-type]
    subs = [args[2] for _, args in tools.calls]
    assert subs.count("install") == 17 and subs.count("approveformyorg") == 17 and subs.count("commit") == 1
    assert tools.queries == []  # nothing failed: nothing queried
    assert len(_commit_peers(tools)) == 9  # MAJORITY of 17 orgs


@pytest.mark.parametrize(("edges", "majority"), [(1, 2), (2, 2), (3, 3), (4, 3), (8, 5)])
def test_commit_majority(tmp_path: Path, edges: int, majority: int) -> None:
    tools = FakeTools()
    network.deploy_chaincode(_spec(tmp_path, edges), tools)  # type: ignore[arg-type]
    assert len(_commit_peers(tools)) == majority


def test_explicit_peers_all_endorse_the_commit(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 4)
    tools = FakeTools()
    network.deploy_chaincode(spec, tools, peers=spec.topology.peer_nodes[:2])  # type: ignore[arg-type]
    assert len(_commit_peers(tools)) == 2


def test_already_installed_and_approved_is_fine(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 4)
    tools = FakeTools(fail={"install": {"Edge2"}, "approveformyorg": {"Edge3"}}, done=True)
    tools.package_id = spec.package_id
    network.deploy_chaincode(spec, tools)  # type: ignore[arg-type]
    assert sorted(tools.queries) == [("approvals", "Edge3"), ("installed", "Edge2")]


@pytest.mark.parametrize("step", ["install", "approveformyorg"])
def test_a_real_failure_is_raised(tmp_path: Path, step: str) -> None:
    tools = FakeTools(fail={step: {"Edge1"}}, done=False)
    with pytest.raises(ToolError, match=f"{step} failed for Edge1"):
        network.deploy_chaincode(_spec(tmp_path, 4), tools)  # type: ignore[arg-type]


def test_peer_joins_act_first(tmp_path: Path) -> None:
    spec = _spec(tmp_path, 16)
    tools = FakeTools(fail={"join": {"Edge7"}}, done=True)
    network._join_peers(spec, tools, lambda _: None)  # type: ignore[arg-type]
    assert len(tools.calls) == 17 and tools.queries == [("channels", "Edge7")]
    with pytest.raises(ToolError, match="join failed for Edge7"):
        network._join_peers(spec, FakeTools(fail={"join": {"Edge7"}}, done=False), lambda _: None)  # type: ignore[arg-type]
