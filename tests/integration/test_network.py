"""The network of issue 9, live: Raft orderers, five peers, the chaincode, the Python gateway."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid

import pytest

from orchestrator import consensus_health
from orchestrator.gateway import ChaincodeEvent, EndorseError
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec, raft_leaders, status, up

from . import waits

pytestmark = pytest.mark.integration


def test_every_node_is_healthy_and_exactly_one_orderer_leads(live_network: NetworkSpec) -> None:
    st = status(live_network)
    orderers = 4 if live_network.topology.consensus == "bft" else 3
    assert len(st.nodes) == 5 + orderers  # Cloud + 4 edges, and the ordering service
    assert all(n.container == "running" and n.healthy for n in st.nodes), st.nodes
    assert len(st.leaders) == 1
    assert len(raft_leaders(live_network)) == 1
    assert st.chaincode is not None and st.chaincode.get("sequence") == 1


def test_the_ordering_cluster_reads_fit_for_a_consenter_change(live_network: NetworkSpec) -> None:
    """The wait before `orderer add/remove` (consensus_health) reads Fabric's own gauges of this
    consensus (etcdraft or BFT) and, on a network as `up` leaves it, returns."""
    t = live_network.topology
    state = consensus_health.wait_healthy(t, before="change a consenter", timeout=60)
    assert state.healthy
    samples = [consensus_health.sample(t, n) for n in t.orderers_nodes]
    assert all(s.answered and s.cluster_size == len(t.orderers_nodes) for s in samples), samples
    assert sum(s.is_leader for s in samples) == 1
    if t.consensus == "bft":
        assert len({s.leader_id for s in samples}) == 1 and samples[0].leader_id is not None
    else:
        assert all(s.active_nodes == len(t.orderers_nodes) for s in samples), samples


def test_task_submitted_by_one_edge_is_read_back_from_another_org_and_all_peers_converge(
    live_network: NetworkSpec,
) -> None:
    task_id = f"it-{uuid.uuid4().hex[:8]}"
    payload_hash = hashlib.sha256(task_id.encode()).hexdigest()
    events: list[ChaincodeEvent] = []

    with Ledger.connect(live_network, "Edge1") as edge1:
        edge1.register_edge(cpu_cycles_per_sec=3_000_000_000, memory_mb=4096, price_per_gigacycle=5)
        # From Edge1's current height, not "the next commit": that position is fixed when the peer
        # gets the request, which could come after the task's block.
        peer = live_network.topology.peer_of(live_network.topology.org("Edge1")).host
        start = waits.peer_heights(live_network)[peer]
        assert start is not None, f"{peer} reports no ledger height"
        stream = edge1._gateway.network(live_network.topology.channel).chaincode_events(
            live_network.topology.chaincode.name, start_block=start
        )

        def collect() -> None:
            for event in stream:
                events.append(event)
                if event.event_name == "TaskRequested" and task_id.encode() in event.payload:
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
    waits.synced(live_network, result)  # Cloud's and Edge3's peers may lag the block Edge1 reported

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
    before = waits.wait_converged(live_network)  # no block of an earlier test still on its way
    up(live_network)
    after = waits.peer_heights(live_network)  # what up committed, the peer that reported it has
    assert after == before, "a second up must not add blocks (nothing to redo)"


def test_a_replayed_signed_transaction_is_committed_valid_only_once(live_network: NetworkSpec) -> None:
    from orchestrator.gateway import SubmitError
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
        first = transaction.submit().status()
        assert first.valid
        # the same signed envelope again: refused, or ordered and marked invalid by the peers
        try:
            again = transaction.submit()
            # BFT: the orderers answer that they already processed it (the client then only waits).
            refusal = str(again.already_with_orderers or "")
        except SubmitError as exc:
            refusal = str(exc)

        def seen() -> list[int]:
            """Validation codes of the tx id in Edge2's blocks (none before the first commit)."""
            chain = blocks(edge2._gateway, live_network.topology.channel, start=first.block_number)
            return [tx.validation_code for b in chain for tx in b.transactions if tx.tx_id == transaction.tx_id]

        # Once the orderer took the replay, it is in a later block: wait for that block (a commit
        # status asked for by tx id could be the first one's), not for time to pass.
        codes = seen() if refusal else waits.wait_until("the replayed envelope in a block", seen, lambda c: len(c) > 1)
    print(f"\nreplayed envelope: {refusal[-160:] or 'ordered'}; validation codes {codes}")
    assert codes.count(0) == 1, f"validation codes of the replayed tx id: {codes}"
