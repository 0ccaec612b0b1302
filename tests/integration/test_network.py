"""The network of issue 9, live: Raft orderers, five peers, the chaincode, the Python gateway."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import uuid

import pytest

from orchestrator.gateway import ChaincodeEvent, EndorseError
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec, raft_leaders, status, up

pytestmark = pytest.mark.integration


def _heights(spec: NetworkSpec) -> dict[str, int | None]:
    return {n.host: n.height for n in status(spec).nodes if n.role == "peer"}


def _wait_same_height(spec: NetworkSpec, at_least: int, timeout: float = 30) -> dict[str, int | None]:
    deadline = time.monotonic() + timeout
    while True:
        heights = _heights(spec)
        values = set(heights.values())
        if len(values) == 1 and None not in values and min(v for v in values if v is not None) >= at_least:
            return heights
        if time.monotonic() > deadline:
            raise AssertionError(f"peers did not converge to height >= {at_least}: {heights}")
        time.sleep(0.5)


def test_every_node_is_healthy_and_exactly_one_orderer_leads(live_network: NetworkSpec) -> None:
    st = status(live_network)
    orderers = 4 if live_network.topology.consensus == "bft" else 3
    assert len(st.nodes) == 5 + orderers  # Cloud + 4 edges, and the ordering service
    assert all(n.container == "running" and n.healthy for n in st.nodes), st.nodes
    assert len(st.leaders) == 1
    assert len(raft_leaders(live_network)) == 1
    assert st.chaincode is not None and st.chaincode.get("sequence") == 1


def test_task_submitted_by_one_edge_is_read_back_from_another_org_and_all_peers_converge(
    live_network: NetworkSpec,
) -> None:
    task_id = f"it-{uuid.uuid4().hex[:8]}"
    payload_hash = hashlib.sha256(task_id.encode()).hexdigest()
    events: list[ChaincodeEvent] = []

    with Ledger.connect(live_network, "Edge1") as edge1:
        edge1.register_edge(cpu_cycles_per_sec=3_000_000_000, memory_mb=4096, price_per_gigacycle=5)
        stream = edge1._gateway.network(live_network.topology.channel).chaincode_events(
            live_network.topology.chaincode.name
        )

        def collect() -> None:
            for event in stream:
                events.append(event)
                if event.event_name == "TaskRequested":
                    return

        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        result = edge1.request_task(
            task_id,
            cpu_cycles=5_000_000_000,
            input_bytes=2048,
            deadline_unix=int(time.time()) + 600,
            max_price=12,
            payload_hash=payload_hash,
        )
        assert len(result.tx_id) == 64 and result.block_number > 0
        reader.join(timeout=20)
        stream.close()

    assert any(e.event_name == "TaskRequested" and e.tx_id == result.tx_id for e in events), events
    _wait_same_height(live_network, at_least=result.block_number + 1)

    for reader_org in ("Cloud", "Edge3"):
        with Ledger.connect(live_network, reader_org) as other:
            task = other.read_task(task_id)
        assert task["requester"] == "Edge1MSP"
        assert task["status"] == "REQUESTED"
        assert task["payloadHash"] == payload_hash


def test_chaincode_refusal_reaches_the_client_as_an_endorse_error(live_network: NetworkSpec) -> None:
    with Ledger.connect(live_network, "Cloud") as cloud, pytest.raises(EndorseError) as err:
        cloud.register_edge(cpu_cycles_per_sec=1, memory_mb=1, price_per_gigacycle=1)
    assert "cannot register as an edge" in str(err.value)
    assert err.value.tx_id
    with Ledger.connect(live_network, "Edge1") as edge1:
        assert "CloudMSP" not in {e["mspId"] for e in edge1.list_edges()}, "a refused call wrote nothing"


def test_up_again_is_harmless(live_network: NetworkSpec) -> None:
    before = _heights(live_network)
    up(live_network)
    after = _heights(live_network)
    assert after == before, "a second up must not add blocks (nothing to redo)"


def test_a_replayed_signed_transaction_is_committed_valid_only_once(live_network: NetworkSpec) -> None:
    from orchestrator.gateway import GatewayError
    from orchestrator.gateway.deliver import blocks

    with Ledger.connect(live_network, "Edge2") as edge2:
        if not edge2.edge_registered("Edge2MSP"):
            edge2.register_edge(cpu_cycles_per_sec=1, memory_mb=1, price_per_gigacycle=1)
        proposal = edge2.contract.new_proposal(
            "RequestTask",
            f"replay-{uuid.uuid4().hex[:8]}",
            "1",
            "1",
            str(int(time.time()) + 300),
            "1",
            "c" * 64,
            endorsing_orgs=["Edge2MSP"],
        )
        transaction = proposal.endorse()
        assert transaction.submit().status().valid
        # the same signed envelope again: refused, or ordered and marked invalid by the peers
        with contextlib.suppress(GatewayError):
            transaction.submit().status()
        time.sleep(2)
        seen = [
            tx.validation_code
            for b in blocks(edge2._gateway, live_network.topology.channel)
            for tx in b.transactions
            if tx.tx_id == transaction.tx_id
        ]
    assert seen.count(0) == 1, f"validation codes of the replayed tx id: {seen}"
