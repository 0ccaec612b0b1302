"""Engines in network namespaces without touching the machine: the plan (names, addresses, paths,
command lines), the state file, and start/teardown against a fake machine that records every
command and signal (order, precision, what a crash leaves for another process)."""

from __future__ import annotations

import json
import signal
from collections.abc import Mapping, Sequence
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from orchestrator import netns_engine as ne
from orchestrator.errors import ConfigError, EnvironmentProblem

LAB_ID = "0a1b2c"
SUBNET = IPv4Network("198.18.5.0/24")


def _plan(tmp_path: Path, hosts: int = 2) -> ne.LabPlan:
    return ne.plan_lab(hosts=hosts, root=tmp_path / "lab", run_root=tmp_path / "r", lab_id=LAB_ID, subnet=SUBNET)


# ---- plan ----------------------------------------------------------------------------------------
def test_plan_names_addresses_and_paths_of_every_host() -> None:
    plan = ne.plan_lab(hosts=3, root=Path("/var/tmp/lab"), lab_id=LAB_ID, subnet=SUBNET)
    assert plan.bridge == "mfl0a1b2c"
    assert plan.gateway == IPv4Address("198.18.5.1")
    assert plan.run_root == Path("/run/mecfab-lab/0a1b2c")
    assert plan.state_file == Path("/var/tmp/lab/lab.json")
    h1, h2, h3 = plan.engines
    assert [e.address for e in plan.engines] == [IPv4Address(f"198.18.5.{i}") for i in (2, 3, 4)]
    assert (h1.netns, h1.veth, h1.cgroup_parent) == ("mfl0a1b2c-h1", "mfl0a1b2ch1", "/mfl0a1b2ch1")
    assert h3.bip == "172.31.3.1/24"
    assert h2.socket == Path("/run/mecfab-lab/0a1b2c/h2/docker.sock")
    assert h2.env() == {"DOCKER_HOST": "unix:///run/mecfab-lab/0a1b2c/h2/docker.sock"}
    assert h2.dockerd_log == Path("/var/tmp/lab/h2/dockerd.log")
    assert h2.docker("info") == ["docker", "-H", "unix:///run/mecfab-lab/0a1b2c/h2/docker.sock", "info"]


def test_interface_names_fit_the_kernel_limit_for_the_largest_lab() -> None:
    plan = ne.plan_lab(hosts=ne.MAX_HOSTS, root=Path("/l"), lab_id="ffffff", subnet=SUBNET)
    assert all(len(name) <= 15 for e in plan.engines for name in (e.veth, plan.bridge))
    assert len({e.bip for e in plan.engines}) == ne.MAX_HOSTS
    assert all(IPv4Network(e.bip, strict=False).subnet_of(ne.BIP_RANGE) for e in plan.engines)


def test_the_subnet_avoids_the_machines_networks_and_stays_in_the_lab_range() -> None:
    first = ne.plan_lab(hosts=1, root=Path("/l"), lab_id=LAB_ID).subnet
    assert first.subnet_of(ne.LAB_RANGE) and first.prefixlen == 24
    other = ne.plan_lab(hosts=1, root=Path("/l"), lab_id=LAB_ID, taken=[first]).subnet
    assert other != first and not other.overlaps(first)
    with pytest.raises(EnvironmentProblem, match="every /24"):
        ne.plan_lab(hosts=1, root=Path("/l"), lab_id=LAB_ID, taken=[ne.LAB_RANGE])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hosts": 0}, "1 to 64 hosts"),
        ({"lab_id": "XYZ"}, "6 lowercase hex"),
        ({"subnet": IPv4Network("10.0.0.0/24")}, "must lie in 198.18.0.0/15"),
        ({"hosts": 6, "subnet": IPv4Network("198.18.0.0/29")}, "hold 6 hosts"),
        ({"run_root": Path("/" + "x" * 90)}, "too long for a unix socket"),
    ],
)
def test_bad_plans_are_refused_with_one_clear_line(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"hosts": 1, "root": Path("/l"), "lab_id": LAB_ID, **kwargs}
    with pytest.raises(ConfigError, match=message):
        ne.plan_lab(**args)  # type: ignore[arg-type]


def test_daemons_run_in_the_namespace_with_their_own_dirs_and_carry_the_marker(tmp_path: Path) -> None:
    engine = _plan(tmp_path).engines[0]
    dockerd, containerd = engine.dockerd_argv(), engine.containerd_argv()
    assert dockerd[:3] == ["nsenter", "--net=/run/netns/mfl0a1b2c-h1", "dockerd"]
    assert containerd[:3] == ["nsenter", "--net=/run/netns/mfl0a1b2c-h1", "containerd"]

    def flag(argv: list[str], name: str) -> str:
        return argv[argv.index(name) + 1]

    assert flag(dockerd, "--data-root") == str(tmp_path / "lab" / "h1" / "docker")
    assert flag(dockerd, "--exec-root") == str(tmp_path / "r" / "h1" / "docker")
    assert flag(dockerd, "--host") == engine.docker_host
    assert flag(dockerd, "--containerd") == flag(containerd, "--address") == str(engine.containerd_socket)
    assert flag(dockerd, "--config-file") == str(engine.daemon_json), "never the host's daemon.json"
    assert flag(dockerd, "--cgroup-parent") == "/mfl0a1b2ch1"
    assert flag(dockerd, "--bip") == "172.31.1.1/24"
    assert engine.marker in " ".join(dockerd) and engine.marker in " ".join(containerd)
    toml = engine.containerd_toml()
    assert f'address = "{engine.containerd_socket}"' in toml and '"io.containerd.grpc.v1.cri"' in toml
    assert f'root = "{tmp_path / "lab" / "h1" / "containerd"}"' in toml


def test_namespace_plumbing_and_forward_rule() -> None:
    plan = ne.plan_lab(hosts=2, root=Path("/l"), lab_id=LAB_ID, subnet=SUBNET)
    h2 = plan.engines[1]
    assert h2.link_commands(plan.bridge) == [
        ["ip", "link", "add", "mfl0a1b2ch2", "type", "veth", "peer", "name", "eth0", "netns", "mfl0a1b2c-h2"],
        ["ip", "link", "set", "mfl0a1b2ch2", "master", "mfl0a1b2c", "up"],
        ["ip", "-n", "mfl0a1b2c-h2", "addr", "add", "198.18.5.3/24", "dev", "eth0"],
        ["ip", "-n", "mfl0a1b2c-h2", "link", "set", "eth0", "up"],
        ["ip", "-n", "mfl0a1b2c-h2", "link", "set", "lo", "up"],
    ], "no default route: pulls from a registry fail at once, not after a DNS timeout"
    assert plan.bridge_commands()[1] == ["ip", "addr", "add", "198.18.5.1/24", "dev", "mfl0a1b2c"]
    rule = plan.forward_rule()
    assert rule[:5] == ["FORWARD", "-i", "mfl0a1b2c", "-o", "mfl0a1b2c"] and rule[-2:] == ["-j", "ACCEPT"]


def test_swarm_advertises_the_namespace_address_with_a_pool_clear_of_the_lab() -> None:
    h1, h2 = ne.plan_lab(hosts=2, root=Path("/l"), lab_id=LAB_ID, subnet=SUBNET).engines
    init = ne.swarm_init_args(h1)
    assert init[3:] == [
        "swarm",
        "init",
        "--advertise-addr",
        "198.18.5.2",
        "--listen-addr",
        "198.18.5.2:2377",
        "--default-addr-pool",
        str(ne.DEFAULT_ADDR_POOL),
        "--default-addr-pool-mask-length",
        "24",
    ]
    assert not ne.DEFAULT_ADDR_POOL.overlaps(ne.LAB_RANGE)
    with pytest.raises(ConfigError, match="overlaps"):
        ne.swarm_init_args(h1, default_addr_pool=IPv4Network("198.18.0.0/16"))
    join = ne.swarm_join_args(h2, h1, "SWMTKN-x")
    assert join[-1] == "198.18.5.2:2377" and join[join.index("--advertise-addr") + 1] == "198.18.5.3"


# ---- state file ----------------------------------------------------------------------------------
def test_state_file_round_trip(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    plan.root.mkdir(parents=True)
    state = ne.LabState.of(plan)
    state.netns.append("mfl0a1b2c-h1")
    state.forward_rules.append(plan.forward_rule())
    state.processes.append(ne.ProcessRecord(role="dockerd h1", pid=42, marker=plan.engines[0].marker))
    state.save()
    assert json.loads(plan.state_file.read_text())["lab_id"] == LAB_ID
    again = ne.load_state(plan.root)
    assert again == state and again.plan == plan
    assert ne.load_state(plan.state_file) == state
    assert ne.lab_states(tmp_path) == [plan.state_file]
    with pytest.raises(ConfigError, match="no lab state"):
        ne.load_state(tmp_path / "elsewhere")
    plan.state_file.write_text("{not json")
    with pytest.raises(ConfigError, match="not readable"):
        ne.load_state(plan.root)


# ---- a fake machine ------------------------------------------------------------------------------
class FakeSystem:
    """Keeps links, namespaces, rules, mounts and processes as sets; records calls in order."""

    def __init__(self, tmp_path: Path) -> None:
        self.calls: list[str] = []
        self.links: set[str] = set()
        self.netns: set[str] = set()
        self.rules: list[list[str]] = []
        self.mount_list: list[Path] = []
        self.procs: dict[int, str] = {}
        self.stubborn: set[int] = set()  # ignore SIGTERM
        self.fail: dict[str, str] = {}  # command prefix -> error
        self.answers = True
        self.root = True
        self.missing: set[str] = set()
        self.cgroups = [tmp_path / "cg" / "pids", tmp_path / "cg" / "memory"]
        self.clock = 0.0
        self.next_pid = 100

    def run(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 60) -> ne.Result:
        line = " ".join(argv)
        if not line.startswith(("ip netns pids", "ip link show", "iptables -C", "ip -j")):
            self.calls.append(line)
        for prefix, error in self.fail.items():
            if line.startswith(prefix):
                return ne.Result(1, "", error)
        a = list(argv)
        ok, gone = ne.Result(0, "", ""), ne.Result(1, "", "not found")
        if a[:2] == ["ip", "-j"]:
            return ne.Result(0, "[]", "")
        if a[:3] == ["ip", "link", "add"]:
            self.links.add(a[4] if a[3] == "name" else a[3])
        elif a[:3] == ["ip", "netns", "add"]:
            self.netns.add(a[3])
        elif a[:3] == ["ip", "netns", "pids"]:
            return ok if a[3] in self.netns else gone
        elif a[:3] == ["ip", "netns", "delete"]:
            self.netns.discard(a[3])
        elif a[:3] == ["ip", "link", "show"]:
            return ok if a[3] in self.links else gone
        elif a[:3] == ["ip", "link", "delete"]:
            self.links.discard(a[3])
        elif a[:2] == ["iptables", "-I"]:
            self.rules.append([a[2], *a[4:]])
        elif a[:2] == ["iptables", "-C"]:
            return ok if a[2:] in self.rules else gone
        elif a[:2] == ["iptables", "-D"]:
            self.rules.remove(a[2:])
        elif a[0] == "umount":
            self.mount_list.remove(Path(a[-1]))
        return ok

    def spawn(self, argv: Sequence[str], *, log: Path) -> int:
        self.next_pid += 1
        self.procs[self.next_pid] = " ".join(argv)
        self.calls.append(f"spawn {argv[2]}")
        if "--address" in argv:  # containerd's socket appears
            Path(argv[list(argv).index("--address") + 1]).touch()
        return self.next_pid

    def cmdline(self, pid: int) -> str | None:
        return self.procs.get(pid)

    def signal(self, pid: int, sig: int) -> None:
        words = self.procs[pid].split()
        program = words[2] if words[0] == "nsenter" else Path(words[0]).name
        self.calls.append(f"signal {program} {signal.Signals(sig).name}")
        if sig == signal.SIGKILL or pid not in self.stubborn:
            del self.procs[pid]

    def pids(self) -> list[int]:
        return list(self.procs)

    def mounts(self) -> list[Path]:
        return list(self.mount_list)

    def cgroup_roots(self) -> list[Path]:
        return self.cgroups

    def cgroup_pids(self, path: Path) -> list[int]:
        return []

    def remove_cgroup(self, path: Path) -> None:
        self.calls.append(f"rmdir cgroup {path.parent.name}")
        ne.LinuxSystem().remove_cgroup(path)  # empty directories here: rmdir bottom-up works the same

    def ping(self, sock: Path) -> bool:
        return self.answers

    def which(self, name: str) -> str | None:
        return None if name in self.missing else f"/usr/bin/{name}"

    def is_root(self) -> bool:
        return self.root

    def sleep(self, seconds: float) -> None:
        self.clock += seconds

    def monotonic(self) -> float:
        return self.clock


@pytest.fixture(autouse=True)
def _no_real_shim_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ne, "SHIM_RUN_DIR", tmp_path / "run-containerd")


def _started(tmp_path: Path, hosts: int = 2) -> tuple[ne.Lab, FakeSystem]:
    system = FakeSystem(tmp_path)
    lab = ne.start(_plan(tmp_path, hosts), system=system)
    return lab, system


def test_start_records_each_resource_before_making_it(tmp_path: Path) -> None:
    lab, system = _started(tmp_path)
    assert system.links == {"mfl0a1b2c", "mfl0a1b2ch1", "mfl0a1b2ch2"}
    assert system.netns == {"mfl0a1b2c-h1", "mfl0a1b2c-h2"}
    assert system.rules == [lab.plan.forward_rule()]
    assert [c.split()[1] for c in system.calls if c.startswith("spawn")] == ["containerd", "dockerd"] * 2
    state = ne.load_state(lab.plan.root)
    assert state == lab.state
    assert state.bridge == "mfl0a1b2c" and state.links == ["mfl0a1b2ch1", "mfl0a1b2ch2"]
    assert state.dirs == [str(tmp_path / "lab"), str(tmp_path / "r")]
    assert str(ne.SHIM_RUN_DIR) in state.empty_dirs, "a shim directory the lab brings is removed if left empty"
    assert [p.role for p in state.processes] == ["containerd h1", "dockerd h1", "containerd h2", "dockerd h2"]
    assert state.cgroups == ["/mfl0a1b2ch1", "/mfl0a1b2ch2"]
    assert (tmp_path / "r" / "h1" / "daemon.json").read_text() == "{}\n"


def test_teardown_stops_daemons_before_unmounting_and_unplugging_and_removes_dirs_last(tmp_path: Path) -> None:
    lab, system = _started(tmp_path)
    h1 = lab.engines[0]
    (system.cgroups[0] / "mfl0a1b2ch1" / "abc").mkdir(parents=True)  # a container's cgroup, left by runc
    system.mount_list = [Path("/proc"), h1.data_dir / "docker", h1.run_dir / "docker" / "netns" / "ingress_sbox"]
    shim = 900
    system.procs[shim] = f"/usr/bin/containerd-shim-runc-v2 -namespace moby -address {h1.containerd_socket}"
    system.procs[901] = "unrelated process"
    system.calls.clear()
    lab.teardown()
    calls = system.calls
    assert calls[:4] == ["signal dockerd SIGTERM", "signal containerd SIGTERM"] * 2
    assert calls[4] == "signal containerd-shim-runc-v2 SIGKILL", "the stray shim named the lab's socket"
    assert 901 in system.procs, "nothing else is signalled"
    order = [
        next(i for i, c in enumerate(calls) if c.startswith(prefix) and not c.startswith(f"{prefix}h"))
        for prefix in (
            "signal dockerd",
            "rmdir cgroup",
            f"umount --lazy {h1.run_dir}/docker/netns",
            f"umount --lazy {h1.data_dir}/docker",
            "ip netns delete mfl0a1b2c-h2",
            "ip netns delete mfl0a1b2c-h1",
            "ip link delete mfl0a1b2ch2",
            "iptables -D FORWARD",
            "ip link delete mfl0a1b2c",
        )
    ]
    assert order == sorted(order), "\n".join(calls)
    assert calls[-1] == "ip link delete mfl0a1b2c"
    assert system.mount_list == [Path("/proc")]
    assert not system.netns and not system.links and not system.rules
    assert not (tmp_path / "lab").exists() and not (tmp_path / "r").exists()
    assert not list(tmp_path.glob("cg/*/mfl*"))
    assert ne.leftovers(lab.state, system) == []


def test_a_daemon_ignoring_sigterm_is_killed_and_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    lab, system = _started(tmp_path, hosts=1)
    containerd, dockerd = lab.state.processes
    system.stubborn.add(dockerd.pid)
    system.procs[containerd.pid] = "sleep 1000"  # containerd died; another program got its pid
    system.calls.clear()
    lab.teardown()
    assert system.calls[:2] == ["signal dockerd SIGTERM", "signal dockerd SIGKILL"]
    assert system.clock >= ne.STOP_GRACE, "SIGKILL only after the grace period"
    assert system.procs == {containerd.pid: "sleep 1000"}


def test_another_process_tears_a_crashed_lab_down_from_its_state_file(tmp_path: Path) -> None:
    lab, system = _started(tmp_path)
    del lab  # the process that started it is gone; its state file is not
    ne.teardown(tmp_path / "lab", system=system)
    assert not system.procs and not system.links and not system.netns and not system.rules
    assert not (tmp_path / "lab").exists()


def test_what_cannot_be_removed_is_named_and_the_state_file_stays(tmp_path: Path) -> None:
    lab, system = _started(tmp_path, hosts=1)
    system.fail["ip link delete mfl0a1b2c"] = "Operation not permitted"
    with pytest.raises(EnvironmentProblem, match=r"bridge mfl0a1b2c: Operation not permitted.*tear down again"):
        lab.teardown()
    assert lab.plan.state_file.exists()
    assert ne.load_state(lab.plan.root).bridge == "mfl0a1b2c"
    del system.fail["ip link delete mfl0a1b2c"]
    ne.teardown(lab.plan.root, system=system)  # a second try finishes the job
    assert not system.links and not (tmp_path / "lab").exists()


def test_a_failed_start_removes_what_it_made(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path)
    system.fail["ip netns add mfl0a1b2c-h2"] = "File exists"
    with pytest.raises(EnvironmentProblem, match=r"creating namespace mfl0a1b2c-h2: .* File exists"):
        ne.start(_plan(tmp_path), system=system)
    assert not system.links and not system.netns and not system.rules and not system.procs
    assert not (tmp_path / "lab").exists()


def test_dockerd_that_does_not_answer_names_its_log(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path)
    system.answers = False
    log_file = tmp_path / "lab" / "h1" / "dockerd.log"
    with pytest.raises(EnvironmentProblem, match=f"dockerd of h1 did not answer within 5 s: see {log_file}"):
        ne.start(_plan(tmp_path, hosts=1), system=system, timeout=5)
    assert not system.procs and not (tmp_path / "lab").exists()


def test_a_lab_directory_that_exists_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "lab").mkdir()
    system = FakeSystem(tmp_path)
    with pytest.raises(ConfigError, match="exists already"):
        ne.start(_plan(tmp_path), system=system)
    assert (tmp_path / "lab").is_dir() and not system.calls


def test_preflight_needs_root_and_names_missing_packages(tmp_path: Path) -> None:
    system = FakeSystem(tmp_path)
    system.root = False
    with pytest.raises(EnvironmentProblem, match="need root"):
        ne.preflight(system)
    system.root = True
    system.missing = {"ip", "nsenter"}
    with pytest.raises(EnvironmentProblem, match=r"^ip, nsenter not found: install iproute2 util-linux"):
        ne.preflight(system)


def test_load_images_saves_once_and_loads_into_every_engine(tmp_path: Path) -> None:
    lab, system = _started(tmp_path)
    system.calls.clear()
    lab.load_images(["mecfab/fabric-peer:3.1.1", "mecfab/fabric-orderer:3.1.1"])
    archive = tmp_path / "lab" / "images.tar"
    assert system.calls == [
        f"docker save -o {archive} mecfab/fabric-peer:3.1.1 mecfab/fabric-orderer:3.1.1",
        *(" ".join(e.docker("load", "-q", "-i", str(archive))) for e in lab.engines),
    ]
    system.fail["docker save"] = "Error response from daemon: reference does not exist"
    with pytest.raises(EnvironmentProblem, match="reference does not exist: run 'make images'"):
        lab.load_images(["nope:1"])


def test_swarm_of_three_engines_one_manager_two_workers(tmp_path: Path) -> None:
    lab, system = _started(tmp_path, hosts=3)
    system.calls.clear()
    lab.swarm_init()
    assert [c.split()[3:5] for c in system.calls] == [["swarm", "init"], ["swarm", "join-token"]] + [
        ["swarm", "join"]
    ] * 2
