"""Docker engines of their own, each in its own network namespace on a private bridge: a swarm
to deploy to without ever changing the host engine's swarm mode.

Why: switching the host's Docker engine into or out of swarm mode (``docker swarm init`` /
``leave``) breaks the embedded DNS of compose networks already running there (issue 16). A *lab*
here is N extra engines, so tests (and ``mecfab lab``) get swarms of their own while the host
engine, and the user's network on it, stay as they are.

Layout of a lab (``plan_lab`` computes it, nothing here guesses a name twice):

* a Linux bridge ``mfl<id>`` (``<id>``: 6 hex digits) holding the first address of a /24 taken from
  198.18.0.0/15 (the benchmarking range: not in Docker's address pools, not routed anywhere) that
  no local address or route overlaps;
* per host ``h<i>`` (i = 1..N): a network namespace ``mfl<id>-h<i>``, a veth pair ``mfl<id>h<i>``
  (on the bridge) / ``eth0`` (inside) with the address ``.<i+1>``, and ``lo`` up;
* no default route in the namespaces, on purpose: the lab has no way out, so whatever tries one
  fails at once instead of timing out. (The swarm agent tries to pull every task's image from
  Docker Hub before it uses the local copy; with a route to nowhere each task waited for a DNS
  timeout, ~10 s, one task after the other.) The host (the bridge's address) and the other hosts
  are on the lab's subnet;
* per host its own ``containerd`` and ``dockerd``, started with ``nsenter --net=/run/netns/...``
  (``ip netns exec`` would remount /sys and hide the cgroup hierarchy), each with its own data
  root, exec root, socket, pid file, empty ``daemon.json``, ``docker0`` address (``--bip``) and
  cgroup parent ``/mfl<id>h<i>``. Its own containerd, not dockerd's "managed" one (dockerd uses a
  system containerd instead when one runs), keeps every container process under the lab's control;
* one iptables rule ``FORWARD -i mfl<id> -o mfl<id> -j ACCEPT`` (the host's Docker sets FORWARD's
  policy to DROP, and bridged traffic between the namespaces passes FORWARD), so the engines reach
  each other (swarm control 2377, gossip 7946, VXLAN 4789) and the host reaches them all.

A port a container publishes on host ``h<i>`` is reached from the host at that host's address
(``Engine.address``): use it as the topology's ``ports.bind``. Images come from the host engine
(``Lab.load_images``: ``docker save`` | ``docker load``; no registry needed).

State: ``<root>/lab.json`` records every resource *before* it is created (bridge, rule, netns,
links, cgroups, directories, the processes' pids and a marker of their command lines), so that
``teardown(root)`` removes everything the lab created, also from another process after a crash:
dockerd then containerd by pid (SIGTERM, a grace period, SIGKILL; a pid whose command line no
longer names the lab is left alone), any process still inside the lab's namespaces, cgroups or
naming its directories (containerd shims), mounts under its directories, the namespaces, links,
rule and bridge, then the directories. Nothing else on the machine is touched (``ip netns`` keeps
/run/netns, the mount point it shares with every other namespace user).

Usage::

    with engines(Path("/var/tmp/mylab"), hosts=1) as lab:
        lab.load_images(["mecfab/fabric-peer:3.1.1"])
        lab.swarm_init()
        env = lab.engines[0].env()          # {"DOCKER_HOST": "unix://..."}

Needs root, ``ip`` (iproute2), ``nsenter`` (util-linux), ``iptables``, ``dockerd``, ``containerd``
and the ``docker`` CLI. Library code: nothing prints; long steps report through ``progress``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from orchestrator.errors import ConfigError, EnvironmentProblem

log = logging.getLogger(__name__)
Progress = Callable[[str], None]

PREFIX = "mfl"
LAB_RANGE = IPv4Network("198.18.0.0/15")
BIP_RANGE = IPv4Network("172.31.0.0/16")  # docker0 inside host i's namespace: 172.31.<i>.1/24
# Swarm overlay networks (ingress included) of a lab's swarm: clear of LAB_RANGE and BIP_RANGE.
DEFAULT_ADDR_POOL = IPv4Network("10.192.0.0/10")
MAX_HOSTS = 64
STATE_FILE = "lab.json"
DEFAULT_RUN_BASE = Path("/run/mecfab-lab")  # short: unix socket paths must stay under 108 bytes
NETNS_DIR = Path("/run/netns")
SHIM_RUN_DIR = Path("/run/containerd")  # containerd shims put their sockets under <this>/s
SWARM_PORT = 2377
MAX_SOCKET_PATH = 100
# The Debian package to install when a command is missing.
TOOLS = {
    "ip": "iproute2",
    "nsenter": "util-linux",
    "iptables": "iptables",
    "dockerd": "docker.io",
    "containerd": "containerd",
    "docker": "docker.io",
}


def _quiet(_: str) -> None:
    return None


# ---- the plan: names, addresses, paths, commands (pure) ----------------------------------------
@dataclass(frozen=True)
class Engine:
    """One host of a lab: its namespace, address and Docker engine."""

    lab_id: str
    index: int  # 1..N
    address: IPv4Address
    gateway: IPv4Address  # the bridge's address: the host, as the namespace sees it
    prefixlen: int
    data_dir: Path  # <root>/h<i>: data roots and logs
    run_dir: Path  # <run root>/h<i>: exec roots, sockets, pid files, configs

    @property
    def name(self) -> str:
        return f"h{self.index}"

    @property
    def netns(self) -> str:
        return f"{PREFIX}{self.lab_id}-h{self.index}"

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.netns

    @property
    def veth(self) -> str:
        """The host end of its veth pair, on the lab's bridge (``eth0`` inside the namespace)."""
        return f"{PREFIX}{self.lab_id}h{self.index}"

    @property
    def cgroup_parent(self) -> str:
        return f"/{PREFIX}{self.lab_id}h{self.index}"

    @property
    def bip(self) -> str:
        return f"{BIP_RANGE.network_address + (self.index << 8) + 1}/24"

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def containerd_socket(self) -> Path:
        return self.run_dir / "containerd.sock"

    @property
    def containerd_config(self) -> Path:
        return self.run_dir / "containerd.toml"

    @property
    def daemon_json(self) -> Path:
        """An empty daemon.json: the host's /etc/docker/daemon.json is not this engine's."""
        return self.run_dir / "daemon.json"

    @property
    def dockerd_log(self) -> Path:
        return self.data_dir / "dockerd.log"

    @property
    def containerd_log(self) -> Path:
        return self.data_dir / "containerd.log"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def marker(self) -> str:
        """Text in the command line of every process of this engine (containerd, dockerd, shims)."""
        return f"{self.run_dir}/"

    def env(self) -> dict[str, str]:
        """What points the docker CLI, docker-py and mecfab at this engine."""
        return {"DOCKER_HOST": self.docker_host}

    def docker(self, *args: str) -> list[str]:
        """A docker CLI command line against this engine."""
        return ["docker", "-H", self.docker_host, *args]

    # -- commands -----------------------------------------------------------------------------
    def link_commands(self, bridge: str) -> list[list[str]]:
        """Namespace plumbing, after ``ip netns add``: veth into the bridge, address, links up. No
        default route, on purpose: see the module's docstring."""
        ns = ["ip", "-n", self.netns]
        return [
            ["ip", "link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.netns],
            ["ip", "link", "set", self.veth, "master", bridge, "up"],
            [*ns, "addr", "add", f"{self.address}/{self.prefixlen}", "dev", "eth0"],
            [*ns, "link", "set", "eth0", "up"],
            [*ns, "link", "set", "lo", "up"],
        ]

    def containerd_toml(self) -> str:
        return "\n".join(
            [
                "version = 2",
                f'root = "{self.data_dir / "containerd"}"',
                f'state = "{self.run_dir / "containerd"}"',
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
                "[grpc]",
                f'  address = "{self.containerd_socket}"',
                "",
            ]
        )

    def containerd_argv(self) -> list[str]:
        return [
            "nsenter",
            f"--net={self.netns_path}",
            "containerd",
            "--config",
            str(self.containerd_config),
            "--address",
            str(self.containerd_socket),
        ]

    def dockerd_argv(self) -> list[str]:
        return [
            "nsenter",
            f"--net={self.netns_path}",
            "dockerd",
            "--config-file",
            str(self.daemon_json),
            "--containerd",
            str(self.containerd_socket),
            "--data-root",
            str(self.data_dir / "docker"),
            "--exec-root",
            str(self.run_dir / "docker"),
            "--host",
            self.docker_host,
            "--pidfile",
            str(self.run_dir / "docker.pid"),
            "--bip",
            self.bip,
            "--exec-opt",
            "native.cgroupdriver=cgroupfs",
            "--cgroup-parent",
            self.cgroup_parent,
        ]


@dataclass(frozen=True)
class LabPlan:
    """Every name, address and path of a lab, derived from its id, subnet and directories."""

    lab_id: str
    subnet: IPv4Network
    root: Path  # the lab's own directory (created, removed): data roots, logs, the state file
    run_root: Path  # the lab's own short directory for sockets (created, removed)
    hosts: int

    @property
    def bridge(self) -> str:
        return f"{PREFIX}{self.lab_id}"

    @property
    def gateway(self) -> IPv4Address:
        return self.subnet.network_address + 1

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    @property
    def engines(self) -> tuple[Engine, ...]:
        return tuple(
            Engine(
                lab_id=self.lab_id,
                index=i,
                address=self.gateway + i,
                gateway=self.gateway,
                prefixlen=self.subnet.prefixlen,
                data_dir=self.root / f"h{i}",
                run_dir=self.run_root / f"h{i}",
            )
            for i in range(1, self.hosts + 1)
        )

    def bridge_commands(self) -> list[list[str]]:
        return [
            ["ip", "link", "add", "name", self.bridge, "type", "bridge"],
            ["ip", "addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge],
            ["ip", "link", "set", self.bridge, "up"],
        ]

    def forward_rule(self) -> list[str]:
        """The iptables FORWARD rule (without -I/-C/-D) that lets the bridge's ports talk."""
        comment = f"mecfab lab {self.lab_id}"
        return ["FORWARD", "-i", self.bridge, "-o", self.bridge, "-m", "comment", "--comment", comment, "-j", "ACCEPT"]


def plan_lab(
    *,
    hosts: int,
    root: Path,
    run_root: Path | None = None,
    lab_id: str | None = None,
    subnet: IPv4Network | None = None,
    taken: Sequence[IPv4Network] = (),
) -> LabPlan:
    """A lab's plan. ``subnet``: a /24 (or smaller prefix) in 198.18.0.0/15; by default the first
    one from a place the id picks that overlaps none of ``taken`` (the machine's addresses and
    routes). ``run_root`` defaults to ``/run/mecfab-lab/<id>``."""
    if not 1 <= hosts <= MAX_HOSTS:
        raise ConfigError(f"a lab has 1 to {MAX_HOSTS} hosts, not {hosts}")
    lab_id = lab_id or secrets.token_hex(3)
    if len(lab_id) != 6 or any(c not in "0123456789abcdef" for c in lab_id):
        raise ConfigError(f"lab id {lab_id!r} must be 6 lowercase hex digits")
    if subnet is None:
        subnet = _free_subnet(lab_id, taken)
    elif not subnet.subnet_of(LAB_RANGE) or subnet.num_addresses < hosts + 3:
        raise ConfigError(f"lab subnet {subnet} must lie in {LAB_RANGE} and hold {hosts} hosts and the bridge")
    plan = LabPlan(lab_id, subnet, root, run_root or DEFAULT_RUN_BASE / lab_id, hosts)
    for engine in plan.engines:
        for path in (engine.containerd_socket, Path(f"{engine.containerd_socket}.ttrpc"), engine.socket):
            if len(str(path)) > MAX_SOCKET_PATH:
                raise ConfigError(f"socket path {path} is too long for a unix socket: use a shorter run root")
    return plan


def _free_subnet(lab_id: str, taken: Sequence[IPv4Network]) -> IPv4Network:
    candidates = list(LAB_RANGE.subnets(new_prefix=24))
    start = int(lab_id, 16) % len(candidates)
    for offset in range(len(candidates)):
        candidate = candidates[(start + offset) % len(candidates)]
        if not any(candidate.overlaps(t) for t in taken):
            return candidate
    raise EnvironmentProblem(f"every /24 of {LAB_RANGE} is in use on this machine: tear old labs down")


def swarm_init_args(engine: Engine, *, default_addr_pool: IPv4Network = DEFAULT_ADDR_POOL) -> list[str]:
    """``docker swarm init`` on ``engine``, advertising its namespace address."""
    if default_addr_pool.overlaps(LAB_RANGE) or default_addr_pool.overlaps(BIP_RANGE):
        raise ConfigError(f"swarm address pool {default_addr_pool} overlaps {LAB_RANGE} or {BIP_RANGE}")
    addr = str(engine.address)
    return engine.docker(
        "swarm",
        "init",
        "--advertise-addr",
        addr,
        "--listen-addr",
        f"{addr}:{SWARM_PORT}",
        "--default-addr-pool",
        str(default_addr_pool),
        "--default-addr-pool-mask-length",
        "24",
    )


def swarm_join_args(engine: Engine, manager: Engine, token: str) -> list[str]:
    addr = str(engine.address)
    return engine.docker(
        "swarm",
        "join",
        "--token",
        token,
        "--advertise-addr",
        addr,
        "--listen-addr",
        f"{addr}:{SWARM_PORT}",
        f"{manager.address}:{SWARM_PORT}",
    )


# ---- the state file -----------------------------------------------------------------------------
class ProcessRecord(BaseModel):
    role: str  # "dockerd h1"
    pid: int
    marker: str  # text its command line holds: a pid reused by another program is never signalled


class LabState(BaseModel):
    """What a lab created, written before each creation: enough for ``teardown`` in any process."""

    version: int = 1
    lab_id: str
    subnet: str
    root: str
    run_root: str
    hosts: int
    dirs: list[str] = Field(default_factory=list)  # removed with their contents, last
    empty_dirs: list[str] = Field(default_factory=list)  # parents it made: removed only when empty
    bridge: str | None = None
    forward_rules: list[list[str]] = Field(default_factory=list)
    netns: list[str] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    cgroups: list[str] = Field(default_factory=list)  # cgroup parents, in every hierarchy
    markers: list[str] = Field(default_factory=list)  # a process whose command line holds one is the lab's
    processes: list[ProcessRecord] = Field(default_factory=list)  # in start order

    @classmethod
    def of(cls, plan: LabPlan) -> LabState:
        return cls(
            lab_id=plan.lab_id,
            subnet=str(plan.subnet),
            root=str(plan.root),
            run_root=str(plan.run_root),
            hosts=plan.hosts,
        )

    @property
    def plan(self) -> LabPlan:
        return LabPlan(self.lab_id, IPv4Network(self.subnet), Path(self.root), Path(self.run_root), self.hosts)

    def save(self) -> None:
        """Atomically (a crash never leaves half a file)."""
        path = self.plan.state_file
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n")
        tmp.replace(path)


def load_state(root: Path) -> LabState:
    """The state of the lab whose directory is ``root`` (or the state file itself)."""
    path = root if root.name == STATE_FILE else root / STATE_FILE
    try:
        return LabState.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"no lab state at {path}: nothing to tear down there") from None
    except ValueError as exc:
        raise ConfigError(f"lab state {path} is not readable: {str(exc).splitlines()[0]}") from None


# ---- the machine, behind one small interface (tests use a fake) --------------------------------
@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def last_line(self) -> str:
        lines = (self.err or self.out).strip().splitlines()
        return lines[-1] if lines else f"exit code {self.code}"


class System(Protocol):
    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 60) -> Result: ...

    def spawn(self, argv: Sequence[str], *, log: Path) -> int: ...

    def cmdline(self, pid: int) -> str | None:
        """A live process's command line (arguments joined by spaces); None when it is gone."""
        ...

    def signal(self, pid: int, sig: int) -> None: ...

    def pids(self) -> list[int]: ...

    def mounts(self) -> list[Path]: ...

    def cgroup_roots(self) -> list[Path]:
        """The mounted cgroup hierarchies (v1 controllers, named, v2)."""
        ...

    def cgroup_pids(self, path: Path) -> list[int]:
        """Processes in the cgroup ``path`` and below."""
        ...

    def remove_cgroup(self, path: Path) -> None:
        """``path`` and the cgroups below it (all empty)."""
        ...

    def ping(self, sock: Path) -> bool: ...

    def which(self, name: str) -> str | None: ...

    def is_root(self) -> bool: ...

    def sleep(self, seconds: float) -> None: ...

    def monotonic(self) -> float: ...


class LinuxSystem:
    """The real machine."""

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 60) -> Result:
        log.debug("run %s", " ".join(argv))
        try:
            proc = subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                env={**os.environ, **(env or {})},
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise EnvironmentProblem(f"'{' '.join(argv[:4])}' did not finish within {timeout:.0f} s") from None
        except FileNotFoundError:
            raise EnvironmentProblem(f"{argv[0]} is not installed") from None
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def spawn(self, argv: Sequence[str], *, log: Path) -> int:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._children[proc.pid] = proc
        return proc.pid

    def cmdline(self, pid: int) -> str | None:
        child = self._children.get(pid)
        if child is not None and child.poll() is not None:
            del self._children[pid]  # reaped: no zombie of ours stays behind
            return None
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rpartition(")")[2].split()[0] in ("Z", "X"):
                return None
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return None

    def signal(self, pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def pids(self) -> list[int]:
        return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]

    def mounts(self) -> list[Path]:
        return [Path(_unescape(line.split()[1])) for line in Path("/proc/self/mounts").read_text().splitlines()]

    def cgroup_roots(self) -> list[Path]:
        roots = []
        for line in Path("/proc/self/mounts").read_text().splitlines():
            fields = line.split()
            if fields[2] in ("cgroup", "cgroup2"):
                roots.append(Path(_unescape(fields[1])))
        return roots

    def cgroup_pids(self, path: Path) -> list[int]:
        pids: list[int] = []
        for procs in path.rglob("cgroup.procs"):
            with contextlib.suppress(OSError):
                pids += [int(p) for p in procs.read_text().split()]
        return pids

    def remove_cgroup(self, path: Path) -> None:
        below = sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for directory in [*below, path]:
            directory.rmdir()  # a cgroup is removed with rmdir, its files go with it

    def ping(self, sock: Path) -> bool:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(2)
                conn.connect(str(sock))
                conn.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                reply = conn.recv(256)
        except OSError:
            return False
        return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0] + b" "

    def which(self, name: str) -> str | None:
        return shutil.which(name)

    def is_root(self) -> bool:
        return os.geteuid() == 0

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def monotonic(self) -> float:
        return time.monotonic()


def _unescape(path: str) -> str:
    """/proc/self/mounts writes space, tab, newline and backslash as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        path = path.replace(code, char)
    return path


# ---- start ---------------------------------------------------------------------------------------
def preflight(system: System) -> None:
    """Root and every command a lab runs, or one clear line saying what is missing."""
    if not system.is_root():
        raise EnvironmentProblem("engines in network namespaces need root (ip netns, dockerd): run as root")
    missing = [name for name in TOOLS if system.which(name) is None]
    if missing:
        packages = sorted({TOOLS[name] for name in missing})
        raise EnvironmentProblem(
            f"{', '.join(missing)} not found: install {' '.join(packages)} (network/scripts/setup-host.sh does)"
        )


def taken_networks(system: System) -> list[IPv4Network]:
    """The machine's IPv4 addresses (with their prefixes) and routes: a lab's subnet avoids them."""
    taken: list[IPv4Network] = []
    for argv, key in ((["ip", "-j", "-4", "addr", "show"], "addr"), (["ip", "-j", "-4", "route", "show"], "route")):
        result = system.run(argv)
        if not result.ok:
            raise EnvironmentProblem(f"'{' '.join(argv)}' failed: {result.last_line}")
        for entry in json.loads(result.out or "[]"):
            if key == "addr":
                for info in entry.get("addr_info", []):
                    taken.append(IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False))
            elif entry.get("dst", "default") != "default":
                with contextlib.suppress(ValueError):
                    taken.append(IPv4Network(entry["dst"], strict=False))
    return taken


@dataclass
class Lab:
    """A started lab: its plan, what it created (``state``) and its engines."""

    state: LabState
    system: System = field(default_factory=LinuxSystem)

    @property
    def plan(self) -> LabPlan:
        return self.state.plan

    @property
    def engines(self) -> tuple[Engine, ...]:
        return self.plan.engines

    def _record(self, **changes: object) -> None:
        for name, value in changes.items():
            current = getattr(self.state, name)
            if isinstance(current, list):
                current.extend(value if isinstance(value, list) else [value])
            else:
                setattr(self.state, name, value)
        self.state.save()

    def _must(self, argv: Sequence[str], what: str) -> str:
        result = self.system.run(argv)
        if not result.ok:
            raise EnvironmentProblem(f"{what}: '{' '.join(argv)}' failed: {result.last_line}")
        return result.out

    def _start(self, progress: Progress, timeout: float) -> None:
        plan = self.plan
        self._make_dirs(plan.root)
        self._make_dirs(plan.run_root)
        if not SHIM_RUN_DIR.exists():  # containerd shims create <it>/s for their sockets
            self._record(empty_dirs=[str(SHIM_RUN_DIR / "s"), str(SHIM_RUN_DIR)])
        progress(f"lab {plan.lab_id}: bridge {plan.bridge} on {plan.subnet}, {plan.hosts} host(s)")
        self._record(bridge=plan.bridge)
        for argv in plan.bridge_commands():
            self._must(argv, f"creating bridge {plan.bridge}")
        rule = plan.forward_rule()
        self._record(forward_rules=[rule])
        self._must(["iptables", "-I", rule[0], "1", *rule[1:]], f"letting traffic through {plan.bridge}")
        for engine in plan.engines:
            self._record(netns=[engine.netns])
            self._must(["ip", "netns", "add", engine.netns], f"creating namespace {engine.netns}")
            self._record(links=[engine.veth])
            for argv in engine.link_commands(plan.bridge):
                self._must(argv, f"wiring {engine.netns}")
        for engine in plan.engines:
            self._start_engine(engine, progress, timeout)

    def _make_dirs(self, path: Path) -> None:
        """``path`` (the lab's own: must be new) and any missing parents (kept unless empty). The
        state file lives in the root: its first write follows the root's creation."""
        if path.exists():
            raise ConfigError(f"lab directory {path} exists already: use a new one (or tear that lab down)")
        missing = [p for p in [path, *path.parents] if not p.exists()]
        path.mkdir(parents=True)
        self._record(dirs=[str(path)], empty_dirs=[str(p) for p in missing[1:]])

    def _start_engine(self, engine: Engine, progress: Progress, timeout: float) -> None:
        progress(f"starting the Docker engine of {engine.name} at {engine.address} (log: {engine.dockerd_log})")
        for directory in (engine.data_dir, engine.run_dir):
            directory.mkdir(parents=True, exist_ok=True)
        engine.containerd_config.write_text(engine.containerd_toml())
        engine.daemon_json.write_text("{}\n")
        self._record(cgroups=[engine.cgroup_parent], markers=[engine.marker])
        pid = self.system.spawn(engine.containerd_argv(), log=engine.containerd_log)
        self._record(processes=[ProcessRecord(role=f"containerd {engine.name}", pid=pid, marker=engine.marker)])
        self._wait(
            f"containerd of {engine.name}",
            lambda: engine.containerd_socket.exists(),
            pid=pid,
            log_file=engine.containerd_log,
            timeout=timeout,
        )
        pid = self.system.spawn(engine.dockerd_argv(), log=engine.dockerd_log)
        self._record(processes=[ProcessRecord(role=f"dockerd {engine.name}", pid=pid, marker=engine.marker)])
        self._wait(
            f"dockerd of {engine.name}",
            lambda: self.system.ping(engine.socket),
            pid=pid,
            log_file=engine.dockerd_log,
            timeout=timeout,
        )

    def _wait(self, what: str, ready: Callable[[], bool], *, pid: int, log_file: Path, timeout: float) -> None:
        deadline = self.system.monotonic() + timeout
        while not ready():
            if self.system.cmdline(pid) is None:
                raise EnvironmentProblem(f"{what} exited at start ({_tail(log_file)}): see {log_file}")
            if self.system.monotonic() > deadline:
                raise EnvironmentProblem(f"{what} did not answer within {timeout:.0f} s: see {log_file}")
            self.system.sleep(0.2)

    # -- what runs on the engines ------------------------------------------------------------------
    def load_images(
        self, images: Sequence[str], *, source_env: Mapping[str, str] | None = None, progress: Progress = _quiet
    ) -> None:
        """Copy ``images`` into every engine of the lab from the engine the ``docker`` CLI reaches
        with ``source_env`` laid over this process's environment: by default the host engine (unless
        DOCKER_HOST already points elsewhere: load before pointing it at the lab)."""
        if not images:
            return
        archive = self.plan.root / "images.tar"
        env = dict(source_env) if source_env is not None else {}
        progress(f"saving {len(images)} image(s): {', '.join(images)}")
        result = self.system.run(["docker", "save", "-o", str(archive), *images], env=env, timeout=600)
        if not result.ok:
            raise EnvironmentProblem(f"docker save {' '.join(images)} failed: {result.last_line}: run 'make images'")
        try:
            for engine in self.engines:
                progress(f"loading them into {engine.name}")
                result = self.system.run(engine.docker("load", "-q", "-i", str(archive)), timeout=600)
                if not result.ok:
                    raise EnvironmentProblem(f"docker load into {engine.name} failed: {result.last_line}")
        finally:
            archive.unlink(missing_ok=True)

    def swarm_init(self, *, default_addr_pool: IPv4Network = DEFAULT_ADDR_POOL, progress: Progress = _quiet) -> None:
        """A swarm of every engine: the first is its manager, the others join as workers."""
        manager, *workers = self.engines
        progress(f"swarm init on {manager.name} ({manager.address})")
        self._must(swarm_init_args(manager, default_addr_pool=default_addr_pool), f"swarm init on {manager.name}")
        if workers:
            token = self._must(manager.docker("swarm", "join-token", "-q", "worker"), "reading the join token").strip()
            for worker in workers:
                progress(f"{worker.name} joins the swarm")
                self._must(swarm_join_args(worker, manager, token), f"swarm join of {worker.name}")

    def leftovers(self) -> list[str]:
        return leftovers(self.state, self.system)

    def teardown(self, *, progress: Progress = _quiet) -> None:
        teardown_state(self.state, system=self.system, progress=progress)


def _tail(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1][-200:] if lines else "empty log"


def start(plan: LabPlan, *, system: System | None = None, progress: Progress = _quiet, timeout: float = 60) -> Lab:
    """Create the lab of ``plan`` and start its engines; on any failure, tear down what was made."""
    system = system or LinuxSystem()
    preflight(system)
    lab = Lab(LabState.of(plan), system)
    try:
        lab._start(progress, timeout)
    except BaseException:
        if lab.state.dirs:  # something was made (a lab whose directory existed made nothing)
            try:
                lab.teardown(progress=progress)
            except Exception as exc:  # the start's own error matters more
                log.warning("teardown after a failed start: %s", exc)
        raise
    return lab


@contextlib.contextmanager
def engines(
    root: Path,
    *,
    hosts: int = 1,
    run_root: Path | None = None,
    system: System | None = None,
    progress: Progress = _quiet,
    timeout: float = 60,
) -> Iterator[Lab]:
    """A lab of ``hosts`` engines under ``root`` (a new directory), torn down whatever happens."""
    system = system or LinuxSystem()
    preflight(system)
    plan = plan_lab(hosts=hosts, root=root, run_root=run_root, taken=taken_networks(system))
    lab = start(plan, system=system, progress=progress, timeout=timeout)
    try:
        yield lab
    finally:
        lab.teardown(progress=progress)


# ---- teardown ------------------------------------------------------------------------------------
STOP_GRACE = 30.0  # dockerd in swarm mode takes ~10 s to shut down


def teardown(root: Path, *, system: System | None = None, progress: Progress = _quiet) -> None:
    """Remove everything the lab under ``root`` created (see the module's docstring)."""
    teardown_state(load_state(root), system=system or LinuxSystem(), progress=progress)


def teardown_state(state: LabState, *, system: System, progress: Progress = _quiet) -> None:
    """Each step is tried whatever failed before; a resource already gone is fine. Raises
    EnvironmentProblem naming what is left (the state file then stays, for another try)."""
    plan = state.plan
    progress(f"tearing lab {plan.lab_id} down")
    problems: list[str] = []
    for proc in reversed(state.processes):  # dockerd before the containerd it uses
        problem = _stop(system, proc, grace=STOP_GRACE)
        if problem:
            problems.append(problem)
    _kill_strays(system, state)
    for parent in state.cgroups:
        for root in system.cgroup_roots():
            path = root / parent.lstrip("/")
            if path.is_dir():
                try:
                    system.remove_cgroup(path)
                except OSError as exc:
                    problems.append(f"cgroup {path}: {exc.strerror}")
    tops = [Path(d) for d in state.dirs]
    for mount in sorted(
        (m for m in system.mounts() if any(m == t or t in m.parents for t in tops)),
        key=lambda m: len(m.parts),
        reverse=True,
    ):
        result = system.run(["umount", "--lazy", str(mount)])
        if not result.ok:
            problems.append(f"mount {mount}: {result.last_line}")
    for netns in reversed(state.netns):
        _delete(system, f"netns {netns}", ["ip", "netns", "pids", netns], ["ip", "netns", "delete", netns], problems)
    for link in reversed(state.links):
        _delete(system, f"link {link}", ["ip", "link", "show", link], ["ip", "link", "delete", link], problems)
    for rule in reversed(state.forward_rules):
        for _ in range(10):  # the same rule inserted twice goes with two deletions
            if not _delete(system, "iptables rule", ["iptables", "-C", *rule], ["iptables", "-D", *rule], problems):
                break
    if state.bridge:
        bridge = state.bridge
        _delete(system, f"bridge {bridge}", ["ip", "link", "show", bridge], ["ip", "link", "delete", bridge], problems)
    if not problems:  # a namespace's veth goes a moment after the namespace: give it that moment
        deadline = system.monotonic() + 10
        while (left := leftovers(state, system, dirs=False)) and system.monotonic() < deadline:
            system.sleep(0.5)
        problems += [f"{what} is still there" for what in left]
    if problems:
        with contextlib.suppress(OSError):
            state.save()
        raise EnvironmentProblem(
            f"lab {plan.lab_id} not fully torn down ({'; '.join(problems)}): "
            f"fix that, then tear down again from {plan.state_file}"
        )
    for directory in reversed(state.dirs):  # run root, then root (the state file goes last)
        shutil.rmtree(directory, ignore_errors=True)
    for directory in state.empty_dirs:  # deepest first
        with contextlib.suppress(OSError):
            Path(directory).rmdir()
    left = [d for d in state.dirs if Path(d).exists()]
    if left:
        raise EnvironmentProblem(f"lab {plan.lab_id}: could not remove {', '.join(left)}")
    progress(f"lab {plan.lab_id} torn down")


def _delete(system: System, what: str, show: list[str], delete: list[str], problems: list[str]) -> bool:
    """Delete a resource that ``show`` finds; True when it was there. A failed deletion is a
    problem only when the resource is still there afterwards (namespaces take links along)."""
    if not system.run(show).ok:
        return False
    result = system.run(delete)
    if not result.ok and system.run(show).ok:
        problems.append(f"{what}: {result.last_line}")
        return False
    return True


def _stop(system: System, proc: ProcessRecord, *, grace: float) -> str | None:
    """SIGTERM, wait up to ``grace`` seconds, SIGKILL; None once it is gone, else what is wrong."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        cmd = system.cmdline(proc.pid)
        if cmd is None or proc.marker not in cmd:
            return None  # gone, or the pid now belongs to another program
        log.debug("%s (pid %d): signal %s", proc.role, proc.pid, sig.name)
        system.signal(proc.pid, sig)
        if _gone(system, proc, wait):
            return None
    return f"{proc.role} (pid {proc.pid}) survived SIGKILL"


def _gone(system: System, proc: ProcessRecord, timeout: float) -> bool:
    deadline = system.monotonic() + timeout
    while True:
        cmd = system.cmdline(proc.pid)
        if cmd is None or proc.marker not in cmd:
            return True
        if system.monotonic() > deadline:
            return False
        system.sleep(0.2)


def _lab_pids(system: System, state: LabState) -> list[int]:
    """Processes that are the lab's: in its namespaces or cgroups, or naming its directories."""
    own = os.getpid()
    found: set[int] = set()
    for pid in system.pids():
        cmd = system.cmdline(pid)
        if pid != own and cmd is not None and any(marker in cmd for marker in state.markers):
            found.add(pid)
    for netns in state.netns:
        result = system.run(["ip", "netns", "pids", netns])
        if result.ok:
            found.update(int(p) for p in result.out.split() if p.isdigit())
    for parent in state.cgroups:
        for root in system.cgroup_roots():
            path = root / parent.lstrip("/")
            if path.is_dir():
                found.update(system.cgroup_pids(path))
    found.discard(own)
    return sorted(found)


def _kill_strays(system: System, state: LabState) -> None:
    """SIGKILL what is left of the lab's processes (shims, containers of a killed dockerd)."""
    deadline = system.monotonic() + 10
    while True:
        strays = [pid for pid in _lab_pids(system, state) if system.cmdline(pid) is not None]
        if not strays or system.monotonic() > deadline:
            return
        log.debug("killing stray processes of lab %s: %s", state.lab_id, strays)
        for pid in strays:
            system.signal(pid, signal.SIGKILL)
        system.sleep(0.2)


def leftovers(state: LabState, system: System | None = None, *, dirs: bool = True) -> list[str]:
    """What of the lab's resources still exists (empty after a complete teardown)."""
    system = system or LinuxSystem()
    left = [f"{proc.role} (pid {proc.pid})" for proc in state.processes if _alive(system, proc)]
    left += [f"process {pid}" for pid in _lab_pids(system, state) if system.cmdline(pid) is not None]
    for parent in state.cgroups:
        left += [f"cgroup {r / parent.lstrip('/')}" for r in system.cgroup_roots() if (r / parent.lstrip("/")).is_dir()]
    tops = [Path(d) for d in state.dirs]
    left += [f"mount {m}" for m in system.mounts() if any(m == t or t in m.parents for t in tops)]
    left += [f"netns {ns}" for ns in state.netns if system.run(["ip", "netns", "pids", ns]).ok]
    left += [f"link {ln}" for ln in state.links if system.run(["ip", "link", "show", ln]).ok]
    left += [f"iptables rule {' '.join(r)}" for r in state.forward_rules if system.run(["iptables", "-C", *r]).ok]
    if state.bridge and system.run(["ip", "link", "show", state.bridge]).ok:
        left.append(f"bridge {state.bridge}")
    if dirs:
        left += [f"directory {d}" for d in state.dirs if Path(d).exists()]
    return left


def _alive(system: System, proc: ProcessRecord) -> bool:
    cmd = system.cmdline(proc.pid)
    return cmd is not None and proc.marker in cmd


def lab_states(base: Path) -> list[Path]:
    """State files of labs whose directories sit directly under ``base`` (left by crashed runs)."""
    return sorted(base.glob(f"*/{STATE_FILE}")) if base.is_dir() else []
