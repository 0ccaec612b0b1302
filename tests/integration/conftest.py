"""One live network for the whole integration session: its own compose project, its own host
ports and its own state directory, so it never touches a network started with `make up`.
It is always torn down, whatever happened."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator import engine, network
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec, down, up
from orchestrator.topology import Topology, load_topology

from . import waits


def free_port_base(start: int = 27000) -> int:
    """A free block of host ports for a test network (room for 5 orderers, whatever it runs)."""
    return network.free_port_base(load_topology().with_overrides(orderers=5), start=start)


# `make integration` runs the end-to-end tests a second time with MECFAB_IT_CONSENSUS=bft.
CONSENSUS = os.environ.get("MECFAB_IT_CONSENSUS", "etcdraft")


@contextlib.contextmanager
def isolated_network(tmp_path_factory: pytest.TempPathFactory, name: str, topology: Topology) -> Iterator[NetworkSpec]:
    """A network of its own (project ``mecfab-<name>-<pid>``, state under pytest's tmp), up for
    the block and always torn down; then nothing labelled with its project may be left."""
    root: Path = tmp_path_factory.mktemp(name)
    spec = NetworkSpec.isolated(root, project=f"mecfab-{name}-{os.getpid()}", topology=topology)
    try:
        up(spec)
        yield spec
    finally:
        down(spec)
        client = engine.connect()
        label = {"label": f"com.docker.compose.project={spec.project}"}
        left = [c.name for c in client.containers.list(all=True, filters=label)]
        left += [n.name for n in client.networks.list(filters=label)]
        left += [v.name for v in client.volumes.list(filters=label)]
        assert not left, f"down left these behind: {left}"
        assert not spec.state.root.exists(), "down left the state directory behind"


@pytest.fixture(scope="session")
def live_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkSpec]:
    topology = load_topology().with_overrides(consensus=CONSENSUS, port_base=free_port_base())
    with isolated_network(tmp_path_factory, "it", topology) as spec:
        yield spec


@pytest.fixture(scope="module")
def orgs(live_network: NetworkSpec) -> Iterator[dict[str, Ledger]]:
    """A ledger client of every org of the session network, each edge registered."""
    ledgers = {name: Ledger.connect(live_network, name) for name in ("Cloud", "Edge1", "Edge2", "Edge3", "Edge4")}
    try:
        for name in ("Edge1", "Edge2", "Edge3", "Edge4"):
            if not ledgers[name].edge_registered(f"{name}MSP"):
                registered = ledgers[name].register_edge(
                    cpu_cycles_per_sec=2_000_000_000, memory_mb=2048, price_per_gigacycle=3
                )
                waits.synced(live_network, registered)  # other orgs' peers endorse with this edge
        yield ledgers
    finally:
        for ledger in ledgers.values():
            ledger.close()
