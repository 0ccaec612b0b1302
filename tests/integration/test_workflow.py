"""Issue 5 on the live network: edge agents in their containers, the cloud monitor and a short
seeded run; an agent killed mid-task. Every task ends settled or expired, nothing is paid twice
and the credits stay conserved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.network import NetworkSpec
from orchestrator.topology import load_topology
from orchestrator.workflow import RunConfig, WorkloadConfig, run_tasks
from orchestrator.workflow.demos import fault, mobility

from .conftest import free_port_base, isolated_network

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wf_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkSpec]:
    """A network of its own: the run's credit check explains every balance change by the run's
    tasks, and the monitor expires any overdue task it sees, so a task another test left awarded
    on a shared network would be refunded mid-run and break the check by luck."""
    topology = load_topology().with_overrides(port_base=free_port_base(start=26000))
    with isolated_network(tmp_path_factory, "wf", topology) as spec:
        yield spec


def test_a_short_run_settles_or_expires_every_task_and_conserves_credits(
    wf_network: NetworkSpec, tmp_path: Path
) -> None:
    workload = WorkloadConfig(
        count=10,
        rate_hz=2.0,
        seed=5,
        cycles_min=100_000_000,
        cycles_max=400_000_000,
        deadline_min_s=20,
        deadline_max_s=30,
        delegate_share=0.3,
        max_reassign=1,
    )
    config = RunConfig(workload=workload, policy="auction", k=2, drain_timeout_s=75)
    outcome = run_tasks(wf_network, config, folder=tmp_path / "run")

    statuses = [r.final_status for r in outcome.records]
    assert len(statuses) == 10
    assert set(statuses) <= {"SETTLED", "EXPIRED"}, statuses
    assert statuses.count("SETTLED") >= 5, statuses
    assert any(r.delegate and r.final_status == "SETTLED" for r in outcome.records), "no delegated award settled"
    for record in outcome.records:
        settles = [t for t in record.txs if t["function"] == "Settle" and t["ok"]]
        assert len(settles) == (1 if record.final_status == "SETTLED" else 0), record.task_id
        if record.final_status == "SETTLED":
            assert {"requested", "shortlisted", "awarded", "exec_started", "exec_finished", "settled"} <= set(
                record.stages
            ), record.task_id
            assert record.stages["exec_finished"] > record.stages["exec_started"] >= record.stages["awarded"]
    assert outcome.ledger["audit"]["balanced"] is True
    assert outcome.ledger["credit_check"]["consistent"], outcome.ledger["credit_check"]
    summary = outcome.summary
    assert summary["stages_s"]["execution"]["n"] >= 1 and summary["time_shares"]["execution"] > 0
    for name in ("config.json", "tasks.jsonl", "stages.csv", "transactions.csv", "summary.md", "edges.csv"):
        assert (outcome.folder / name).is_file(), name


def test_an_agent_killed_mid_task_expires_it_and_it_is_reassigned_and_paid_once(wf_network: NetworkSpec) -> None:
    report = fault(wf_network, deadline_s=20, exec_s=3.0)
    assert report.ok, report.to_json()


def test_a_partitioned_executor_misses_its_deadline_and_the_task_is_reassigned_and_paid_once(
    wf_network: NetworkSpec,
) -> None:
    report = fault(wf_network, how="partition", deadline_s=20, exec_s=3.0)
    assert report.name == "fault-partition"
    assert report.ok, report.to_json()


def test_a_task_handed_to_an_edge_that_expects_it_is_settled_by_the_new_owner(wf_network: NetworkSpec) -> None:
    """The mobile user (first paper): the new owner's agent was told to expect the transfer and the
    escrow it pays (an agent accepts no other), takes the task over mid-execution and settles it."""
    report = mobility(wf_network, exec_s=6.0)
    assert report.ok, report.to_json()


# What a container sends to Edge1's agent: an order that would spend Edge1's credits, and a transfer
# expectation (with a forged secret) that would make it pay an escrow. Prints the HTTP status of each,
# or "unreachable" when the agent's name does not resolve or it does not answer.
_STRANGER = """
import json, sys, urllib.error, urllib.request
for path, body, auth in [
    ("/tasks", {"task_id": "forged-1", "cycles": 5, "input_bytes": 10, "deadline_s": 60, "max_price": 9}, None),
    ("/tasks/forged-1/expect", {"from": "Edge3MSP", "maxEscrow": 1000000}, "Bearer " + "0" * 64),
]:
    headers = {"Content-Type": "application/json", **({"Authorization": auth} if auth else {})}
    request = urllib.request.Request(sys.argv[1] + path, json.dumps(body).encode(), headers, method="POST")
    try:
        print(urllib.request.urlopen(request, timeout=5).status)
    except urllib.error.HTTPError as exc:
        print(exc.code)
    except OSError:
        print("unreachable")
"""


def test_no_container_can_act_through_another_orgs_agent(wf_network: NetworkSpec) -> None:
    """On the shared network an edge's agent is not even reachable (it is on its org's network
    only); on that network, a container without the org's secret gets 401 and nothing is done."""
    from orchestrator import engine
    from orchestrator.chaos.faults import network_of
    from orchestrator.render.compose import NETWORK, org_network
    from orchestrator.workflow.fleet import AgentFleet, agent_image

    fleet = AgentFleet(wf_network)
    fleet.start()
    try:
        client = engine.connect()
        edge1 = wf_network.topology.edge_orgs[0]
        target = f"http://{wf_network.topology.peer_of(edge1).agent_host}:8700"
        seen = {}
        for name in (NETWORK, org_network(edge1)):
            output = client.containers.run(
                agent_image(),
                ["-c", _STRANGER, target],
                entrypoint=["python3"],
                network=network_of(client, wf_network, name).name,
                remove=True,
            )
            seen[name] = output.decode().split()
        assert seen == {NETWORK: ["unreachable", "unreachable"], org_network(edge1): ["401", "401"]}, seen
        status = fleet.clients["Edge1MSP"].status()
        assert status["open_requests"] == 0, status  # nothing was originated
    finally:
        fleet.stop()
