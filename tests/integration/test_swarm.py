"""The swarm target, live, on a Docker engine of this module's own (``orchestrator.netns_engine``:
a dockerd in its own network namespace), never on the host engine: ``docker swarm init``/``leave``
on the host engine breaks the DNS of compose networks running there (issue 16).

Order: a small compose network on the HOST engine commits a transaction; the module's engine
starts outside a swarm (``up`` is refused there), becomes a single-node swarm and gets the stack
(ports published at the engine's namespace address, the topology's ``ports.bind``); the stack is
checked end to end like the compose network; a second lab of two engines forms a two-node swarm
over its bridge (what a multi-host lab builds on); then everything is torn down and the last test
checks that nothing of the engine is left, the host engine's swarm state never changed and the
compose network on it still commits.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from orchestrator import engine
from orchestrator import netns_engine as ne
from orchestrator.errors import ConfigError
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec, down, raft_leaders, required_images, status, up
from orchestrator.swarm import NOT_INITIALISED, STACK_LABEL, stack_services, swarm_state
from orchestrator.topology import REPO_ROOT, load_topology

from .conftest import free_port_base, isolated_network
from .waits import synced

pytestmark = pytest.mark.integration
log = logging.getLogger(__name__)  # progress of the long steps (pytest --log-cli-level=INFO shows it)


def free_swarm_port_base() -> int:
    """A block of ports from 23000 on that nothing holds on the host (``swarm.deploy`` checks the
    host's interfaces for a single-node swarm; the engine's namespace has every port free)."""
    topology = load_topology()
    for base in range(23000, 24000, 100):
        t = topology.with_overrides(port_base=base)
        ports = [p for n in t.nodes for p in (n.host_port, n.operations_port)] + [
            n.admin_port for n in t.orderers_nodes
        ]
        if not engine.busy_ports("0.0.0.0", ports):
            return base
    raise RuntimeError("no free block of host ports in 23000-23999 for the swarm network")


def _leftovers(client: Any, project: str) -> list[str]:
    label = {"label": f"{STACK_LABEL}={project}"}
    left = [s.name for s in stack_services(client, project)] if swarm_state(client)[1] else []
    left += [c.name for c in client.containers.list(all=True, filters=label, ignore_removed=True)]
    left += [n.name for n in client.networks.list(filters=label)]
    left += [v.name for v in client.volumes.list(filters=label)]
    if swarm_state(client)[1]:
        left += [c.name for c in client.configs.list(filters=label)]
        left += [s.name for s in client.secrets.list(filters=label)]
    return left


def _commit(spec: NetworkSpec, org: str = "Edge1") -> int:
    """A transaction committed through ``org``'s peer (and so ordered by the Raft orderers, who
    must resolve each other's names), then read back from the Cloud's peer; returns its block."""
    task_id = f"iso-{uuid.uuid4().hex[:8]}"
    with Ledger.connect(spec, org) as ledger:
        if not ledger.edge_registered(ledger.msp_id):
            ledger.register_edge(cpu_cycles_per_sec=2_000_000_000, memory_mb=1024, price_per_gigacycle=5)
        result = ledger.request_task(
            task_id,
            cpu_cycles=1_000_000_000,
            input_bytes=1024,
            deadline_unix=int(time.time()) + 600,
            max_price=10,
            payload_hash=hashlib.sha256(task_id.encode()).hexdigest(),
        )
    synced(spec, result)
    with Ledger.connect(spec, "Cloud") as cloud:
        assert cloud.read_task(task_id)["requester"] == f"{org}MSP"
    return result.block_number


# ---- the host engine's compose network: up first, down last ------------------------------------
@dataclass
class HostNetwork:
    spec: NetworkSpec
    env: dict[str, str]  # the environment that reaches the host engine (before DOCKER_HOST moves)
    swarm_before: tuple[bool, bool]
    first_block: int = 0

    def client(self) -> Any:
        """docker-py on the host engine, whatever DOCKER_HOST says now."""
        return docker.from_env(environment=self.env, timeout=30)


@pytest.fixture(scope="module")
def host_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostNetwork]:
    env = dict(os.environ)
    swarm_before = swarm_state(engine.connect())  # DOCKER_HOST does not point at the module's engine yet
    topology = load_topology().with_overrides(edges=1, port_base=free_port_base(start=25000))
    with isolated_network(tmp_path_factory, "swhost", topology) as spec:
        yield HostNetwork(spec, env, swarm_before)


def test_a_compose_network_on_the_host_engine_commits_before_the_swarm_tests(host_network: HostNetwork) -> None:
    host_network.first_block = _commit(host_network.spec)
    assert host_network.first_block > 0


# ---- the module's own engine -------------------------------------------------------------------
@dataclass
class OwnEngine:
    """The lab (one engine), the swarm network it will run, and the environment that points the
    orchestrator at it. ``close`` (idempotent): stack down, environment back, lab torn down."""

    lab: ne.Lab
    monkeypatch: pytest.MonkeyPatch = field(default_factory=pytest.MonkeyPatch)
    spec: NetworkSpec | None = None
    deployed: bool = False
    closed: bool = False
    down_leftovers: list[str] = field(default_factory=list)

    @property
    def engine(self) -> ne.Engine:
        return self.lab.engines[0]

    def prepare(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        """The stack's spec (ports published at the engine's address), its images copied from the
        host engine, then DOCKER_HOST pointed at the engine."""
        topology = load_topology().with_overrides(port_base=free_swarm_port_base(), bind=str(self.engine.address))
        self.spec = NetworkSpec.isolated(
            tmp_path_factory.mktemp("swarm"), project=f"mecfab-sw-{os.getpid()}", topology=topology, target="swarm"
        )
        # DOCKER_HOST not moved yet: the images come from the host engine
        self.lab.load_images(required_images(self.spec), progress=log.info)
        for name, value in self.engine.env().items():
            self.monkeypatch.setenv(name, value)

    def deploy(self) -> NetworkSpec:
        assert self.spec is not None
        if not self.deployed:
            self.deployed = True
            self.lab.swarm_init(progress=log.info)
            up(self.spec, progress=log.info)
        return self.spec

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self.deployed and self.spec is not None:
                down(self.spec, progress=log.info)
                self.down_leftovers = _leftovers(engine.connect(), self.spec.project)
        finally:
            self.monkeypatch.undo()
            self.lab.teardown(progress=log.info)


@pytest.fixture(scope="module")
def own_engine(host_network: HostNetwork, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnEngine]:
    """Starts after the host network (so it is torn down before it): a dockerd in its own network
    namespace, outside a swarm, with the images the stack runs; DOCKER_HOST points at it."""
    system = ne.LinuxSystem()
    ne.preflight(system)
    plan = ne.plan_lab(
        hosts=1, root=tmp_path_factory.getbasetemp() / f"netns-lab-{os.getpid()}", taken=ne.taken_networks(system)
    )
    own = OwnEngine(ne.start(plan, system=system, progress=log.info))
    try:
        own.prepare(tmp_path_factory)
        yield own
    finally:
        own.close()  # a no-op when the last test closed it already


def test_up_outside_a_swarm_fails_with_one_clear_line_and_deploys_nothing(
    own_engine: OwnEngine, tmp_path: Path
) -> None:
    client = engine.connect()
    assert client.info()["DockerRootDir"] == str(own_engine.engine.data_dir / "docker"), "DOCKER_HOST: own engine"
    assert not swarm_state(client)[0], "the module's engine starts outside a swarm"
    assert own_engine.spec is not None
    topology = own_engine.spec.topology
    spec = NetworkSpec.isolated(
        tmp_path / "net", project=f"mecfab-nosw-{os.getpid()}", topology=topology, target="swarm"
    )
    with pytest.raises(ConfigError) as err:
        up(spec)
    assert str(err.value) == NOT_INITIALISED
    assert not spec.state.root.exists(), "nothing rendered or generated"

    topo = tmp_path / "topology.yaml"
    topo.write_text(yaml.safe_dump(topology.model_dump()))
    state = REPO_ROOT / ".mecfab" / "mecfab-swarm"
    existed = state.exists()
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("mecfab")), "network", "up", "--target", "swarm", "-t", str(topo)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "COLUMNS": "200"},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: {NOT_INITIALISED}"]
    assert existed or not state.exists(), "nothing written"
    assert not swarm_state(client)[0]
    assert not _leftovers(client, "mecfab-swarm")


@pytest.fixture(scope="module")
def swarm_network(own_engine: OwnEngine) -> NetworkSpec:
    return own_engine.deploy()


def test_every_node_runs_as_a_swarm_task_healthy_with_one_leader(
    swarm_network: NetworkSpec, own_engine: OwnEngine, host_network: HostNetwork
) -> None:
    st = status(swarm_network)
    assert len(st.nodes) == 8
    assert all(n.container == "running" and n.healthy for n in st.nodes), st.nodes
    assert len(raft_leaders(swarm_network)) == 1
    assert st.chaincode is not None and st.chaincode.get("sequence") == 1
    assert swarm_state(engine.connect()) == (True, True), "the module's engine is the swarm's manager"
    assert swarm_state(host_network.client()) == host_network.swarm_before, "the host engine stays as it was"


def test_crypto_reaches_the_services_as_configs_and_secrets_not_bind_mounts(swarm_network: NetworkSpec) -> None:
    client = engine.connect()
    services = stack_services(client, swarm_network.project)
    assert len(services) == 8 + 5
    for service in services:
        spec = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]
        assert all(m["Type"] == "volume" for m in spec.get("Mounts", [])), spec.get("Mounts")
        if "-cc-" not in service.name and not service.name.split("_", 1)[1].startswith("cc-"):
            assert {s["File"]["Name"].rsplit("/", 1)[1] for s in spec["Secrets"]} == {"priv_sk", "server.key"}
            assert {s["File"]["Mode"] for s in spec["Secrets"]} == {0o400}
            assert len(spec["Configs"]) == 6


def test_task_submitted_by_one_edge_is_read_back_from_another_org(swarm_network: NetworkSpec) -> None:
    task_id = f"sw-{uuid.uuid4().hex[:8]}"
    payload_hash = hashlib.sha256(task_id.encode()).hexdigest()
    with Ledger.connect(swarm_network, "Edge1") as edge1:
        edge1.register_edge(cpu_cycles_per_sec=3_000_000_000, memory_mb=4096, price_per_gigacycle=5)
        result = edge1.request_task(
            task_id,
            cpu_cycles=5_000_000_000,
            input_bytes=2048,
            deadline_unix=int(time.time()) + 600,
            max_price=12,
            payload_hash=payload_hash,
        )
    assert len(result.tx_id) == 64 and result.block_number > 0
    synced(swarm_network, result)  # the commit is reported by Edge1's peer; the others may lag a block
    for reader_org in ("Cloud", "Edge3"):
        with Ledger.connect(swarm_network, reader_org) as reader:
            task = reader.read_task(task_id)
        assert task["requester"] == "Edge1MSP"
        assert task["status"] == "REQUESTED"
        assert task["payloadHash"] == payload_hash


def test_two_engines_on_one_bridge_form_one_swarm_and_leave_nothing(
    tmp_path_factory: pytest.TempPathFactory, own_engine: OwnEngine
) -> None:
    """What a multi-host lab builds on: a second lab (beside the module's) of two engines that
    reach each other over its bridge (the FORWARD rule), one manager and one worker."""
    root = tmp_path_factory.getbasetemp() / f"netns-lab2-{os.getpid()}"
    with ne.engines(root, hosts=2, progress=log.info) as lab:
        state = lab.state
        assert lab.plan.subnet != own_engine.lab.plan.subnet and lab.plan.lab_id != own_engine.lab.plan.lab_id
        lab.swarm_init(progress=log.info)
        manager, worker = lab.engines
        system = ne.LinuxSystem()
        nodes = system.run(manager.docker("node", "ls", "--format", "{{.Status}} {{.ManagerStatus}}"))
        assert sorted(nodes.out.split("\n")) == ["", "Ready ", "Ready Leader"], nodes.out
        info = system.run(worker.docker("info", "--format", "{{.Swarm.NodeAddr}} {{.Swarm.ControlAvailable}}"))
        assert info.out.split() == [str(worker.address), "false"]
    assert ne.leftovers(state) == []


# ---- last: teardown, and the host engine's network as it was -----------------------------------
def test_teardown_leaves_nothing_and_the_host_engine_and_its_network_are_untouched(
    own_engine: OwnEngine, host_network: HostNetwork
) -> None:
    state = own_engine.lab.state.model_copy(deep=True)
    own_engine.close()
    assert not own_engine.down_leftovers, f"down left these behind: {own_engine.down_leftovers}"
    assert own_engine.spec is not None and not own_engine.spec.state.root.exists(), "down left its state directory"
    assert os.environ.get("DOCKER_HOST") != own_engine.engine.docker_host
    assert ne.leftovers(state) == []
    system = ne.LinuxSystem()
    assert own_engine.engine.netns not in system.run(["ip", "netns", "list"]).out
    assert f"mfl{state.lab_id}" not in system.run(["ip", "-o", "link", "show"]).out
    assert not Path(state.root).exists() and not Path(state.run_root).exists()

    host = host_network.client()
    assert swarm_state(host) == host_network.swarm_before, "the host engine's swarm mode never changed"
    assert _commit(host_network.spec) > max(host_network.first_block, 0)
    for container in engine.project_containers(host, host_network.spec.project):
        if container.labels.get("mecfab.role") == "orderer":
            assert b"no such host" not in container.logs(), f"{container.name} lost name resolution"
