"""The swarm target, live, on a single-node swarm of the local engine: refused outside a swarm,
then deployed as a stack (its own project name and host ports 23000-23999), checked end to end
like the compose network, removed. The swarm is left again only if this module initialised it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator import engine
from orchestrator.errors import ConfigError
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec, down, raft_leaders, status, up
from orchestrator.swarm import NOT_INITIALISED, STACK_LABEL, stack_services, swarm_state
from orchestrator.topology import REPO_ROOT, load_topology

pytestmark = pytest.mark.integration


def free_swarm_port_base() -> int:
    """A block of host ports from 23000 on that nothing holds on any interface (host mode
    publishes on 0.0.0.0)."""
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


def test_up_outside_a_swarm_fails_with_one_clear_line_and_deploys_nothing(tmp_path: Path) -> None:
    client = engine.connect()
    if swarm_state(client)[0]:
        pytest.skip("this engine is already part of a swarm")
    topology = load_topology().with_overrides(port_base=free_swarm_port_base())
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
        [str(REPO_ROOT / ".venv" / "bin" / "mecfab"), "network", "up", "--target", "swarm", "-t", str(topo)],
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
def swarm_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkSpec]:
    client = engine.connect()
    active, manager = swarm_state(client)
    if active and not manager:
        pytest.skip("this engine is a swarm worker: the test needs a manager")
    initialised = False
    if not active:
        subprocess.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"], check=True, capture_output=True)
        initialised = True
    try:
        topology = load_topology().with_overrides(port_base=free_swarm_port_base())
        spec = NetworkSpec.isolated(
            tmp_path_factory.mktemp("swarm"), project=f"mecfab-sw-{os.getpid()}", topology=topology, target="swarm"
        )
        try:
            up(spec)
            yield spec
        finally:
            down(spec)
            assert not _leftovers(client, spec.project), "down left these behind"
            assert not spec.state.root.exists(), "down left the state directory behind"
    finally:
        if initialised:
            subprocess.run(["docker", "swarm", "leave", "--force"], check=True, capture_output=True)


def test_every_node_runs_as_a_swarm_task_healthy_with_one_leader(swarm_network: NetworkSpec) -> None:
    st = status(swarm_network)
    assert len(st.nodes) == 8
    assert all(n.container == "running" and n.healthy for n in st.nodes), st.nodes
    assert len(raft_leaders(swarm_network)) == 1
    assert st.chaincode is not None and st.chaincode.get("sequence") == 1


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
    for reader_org in ("Cloud", "Edge3"):
        deadline = time.monotonic() + 30
        with Ledger.connect(swarm_network, reader_org) as other:
            while True:  # the commit is reported by Edge1's peer; another org's may lag a block
                try:
                    task = other.read_task(task_id)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
        assert task["requester"] == "Edge1MSP"
        assert task["status"] == "REQUESTED"
        assert task["payloadHash"] == payload_hash
