"""The netem backend: Linux traffic control in the edge peer container's network namespace.

For kernels that have ``sch_netem`` (this project's CI kernel does not: it has tbf and htb only).
``tc`` runs on the host inside the peer container's network namespace (``nsenter --net``), so the
FROM-scratch images need no tc. netem works on the egress of the peer's ``eth0``: every packet the
edge peer sends (to other peers, orderers, its chaincode server, clients) waits ``delay ± jitter``,
is dropped with probability ``loss`` and leaves at ``rate`` at most; replies to it are not delayed
again, so a request/response through the edge grows by ``delay`` once, as with the Toxiproxy backend.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

from orchestrator import engine
from orchestrator.errors import EnvironmentProblem, NetworkError
from orchestrator.links.settings import Link
from orchestrator.topology import Node

DEVICE = "eth0"
Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def netem_args(link: Link, *, device: str = DEVICE) -> list[str]:
    """The ``tc`` arguments that impose ``link`` (replacing any root qdisc)."""
    args = ["qdisc", "replace", "dev", device, "root", "netem", "delay", f"{link.delay_ms}ms"]
    if link.jitter_ms:
        args.append(f"{link.jitter_ms}ms")
    if link.loss_pct:
        args += ["loss", f"{link.loss_pct:g}%"]
    if link.rate_bps is not None:
        args += ["rate", f"{round(link.rate_bps)}bit"]
    return args


def clear_args(*, device: str = DEVICE) -> list[str]:
    return ["qdisc", "del", "dev", device, "root"]


def show_args(*, device: str = DEVICE) -> list[str]:
    return ["qdisc", "show", "dev", device]


def in_netns(pid: int, tc_args: Sequence[str]) -> list[str]:
    """The host command running ``tc`` inside the network namespace of process ``pid``."""
    return ["nsenter", f"--net=/proc/{pid}/ns/net", "tc", *tc_args]


_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


def parse_qdisc(text: str) -> Link:
    """A link from ``tc qdisc show`` output (clear when no netem qdisc is there)."""
    line = next((ln for ln in text.splitlines() if " netem " in f" {ln} "), None)
    if line is None:
        return Link()

    def ms(value: str) -> int:
        match = re.match(r"^(\d+(?:\.\d+)?)(us|ms|s)$", value)
        if not match:
            return 0
        return round(float(match.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[match.group(2)])

    delay = re.search(r"delay (\S+)(?:\s+(\d\S*s))?", line)
    loss = re.search(r"loss (\S+)%", line)
    rate = re.search(r"rate (\d+(?:\.\d+)?)([KMG]?)bit", line, re.IGNORECASE)
    return Link(
        delay_ms=ms(delay.group(1)) if delay else 0,
        jitter_ms=ms(delay.group(2)) if delay and delay.group(2) else 0,
        loss_pct=float(loss.group(1)) if loss else 0.0,
        rate_bps=float(rate.group(1)) * _UNITS[rate.group(2).lower()] if rate else None,
    )


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=30, check=False)


class NetemBackend:
    """tc/netem on the peer container's eth0, through nsenter (needs root on the Docker host)."""

    name = "netem"

    def __init__(self, project: str, *, runner: Runner = _run, pid_of: Callable[[Node], int] | None = None) -> None:
        self.project = project
        self._runner = runner
        self._pid_of = pid_of or self._container_pid

    def _container_pid(self, node: Node) -> int:
        client: Any = engine.connect()
        found = client.containers.list(
            filters={"label": [f"com.docker.compose.project={self.project}", f"com.docker.compose.service={node.host}"]}
        )
        if not found:
            raise NetworkError(f"{node.host} is not running in network {self.project!r}: start it with 'make up'")
        return int(found[0].attrs["State"]["Pid"])

    def _tc(self, node: Node, tc_args: Sequence[str]) -> str:
        for tool in ("nsenter", "tc"):
            if self._runner is _run and shutil.which(tool) is None:
                raise EnvironmentProblem(f"the netem link backend needs '{tool}' on the host (iproute2, util-linux)")
        proc = self._runner(in_netns(self._pid_of(node), tc_args))
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip()
            if "netem" in tc_args and ("unknown" in detail.lower() or "no such file" in detail.lower()):
                raise EnvironmentProblem(
                    "this kernel has no netem qdisc (sch_netem): choose links.backend: toxiproxy in the topology"
                )
            last = detail.splitlines()[-1] if detail else f"exit code {proc.returncode}"
            raise NetworkError(f"tc {' '.join(tc_args)} on {node.host} failed: {last}")
        return proc.stdout

    def check(self, node: Node) -> None:
        self._tc(node, show_args())

    def apply(self, node: Node, link: Link) -> None:
        if link.is_clear:
            self.clear(node)
            return
        self._tc(node, netem_args(link))

    def read(self, node: Node) -> Link:
        return parse_qdisc(self._tc(node, show_args()))

    def clear(self, node: Node) -> None:
        if self.read(node).is_clear:
            return
        self._tc(node, clear_args())
