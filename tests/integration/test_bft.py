"""Fabric 3's BFT orderer as the second consensus: 4 SmartBFT consenters tolerate one fault."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from orchestrator import engine
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec, raft_leaders, status
from orchestrator.topology import load_topology

from .conftest import free_port_base, isolated_network

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def bft_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkSpec]:
    topology = load_topology().with_overrides(consensus="bft", edges=2, port_base=free_port_base(start=28000))
    with isolated_network(tmp_path_factory, "bft", topology) as spec:
        yield spec


def _request(ledger: Ledger) -> int:
    task_id = f"bft-{uuid.uuid4().hex[:8]}"
    result = ledger.request_task(
        task_id, cpu_cycles=1, input_bytes=1, deadline_unix=int(time.time()) + 300, max_price=1, payload_hash="b" * 64
    )
    return result.block_number


def test_four_bft_orderers_order_with_one_primary(bft_network: NetworkSpec) -> None:
    st = status(bft_network)
    orderers = [n for n in st.nodes if n.role == "orderer"]
    assert len(orderers) == 4 and all(n.healthy for n in orderers)
    assert len(raft_leaders(bft_network)) == 1
    with Ledger.connect(bft_network, "Edge1") as edge1:
        edge1.register_edge(cpu_cycles_per_sec=1, memory_mb=1, price_per_gigacycle=1)
        assert _request(edge1) > 0


def test_ordering_continues_with_one_orderer_stopped(bft_network: NetworkSpec) -> None:
    client = engine.connect()
    follower = next(n for n in bft_network.topology.orderers_nodes if n not in raft_leaders(bft_network))
    (container,) = [
        c
        for c in engine.project_containers(client, bft_network.project)
        if c.labels.get("com.docker.compose.service") == follower.host
    ]
    container.stop(timeout=2)
    try:
        with Ledger.connect(bft_network, "Edge1") as edge1:
            first = _request(edge1)
            second = _request(edge1)
        assert second > first, "blocks keep coming with 3 of 4 BFT consenters"
    finally:
        container.start()
