"""The agent's endpoint: status for the monitor, orders validated with one clear line, traces."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.agent import AgentClient, AgentServer, AgentSettings, EdgeAgent, TaskOrder
from orchestrator.agent_secret import ensure_secret, read_secret
from orchestrator.errors import ConfigError, NetworkError
from tests.unit.test_agent_events import offline_ledger

SECRET = "s" * 64


@pytest.fixture
def served() -> Iterator[tuple[EdgeAgent, AgentClient]]:
    ledger = offline_ledger("Edge3MSP")
    agent = EdgeAgent(ledger, AgentSettings(cpus=0.5, price_per_gigacycle=25))
    server = AgentServer(agent, "127.0.0.1", 0, secret=SECRET)
    server.start()
    try:
        yield agent, AgentClient(server.url, timeout=2, secret=SECRET)
    finally:
        server.stop()
        agent.stop()
        ledger.close()


def test_status_reports_the_agents_own_state(served: tuple[EdgeAgent, AgentClient]) -> None:
    _, client = served
    status = client.status()
    assert (status["org"], status["msp_id"], status["cpus"], status["price_per_gigacycle"]) == (
        "Edge3",
        "Edge3MSP",
        0.5,
        25,
    )
    assert status["queue_len"] == 0 and status["backlog_cycles"] == 0
    assert status["nominal_hz"] == 1_500_000_000
    assert not client.healthy()  # not following events yet: /healthz says 503


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"task_id": "t1", "cycles": -5, "input_bytes": 10, "deadline_s": 30, "max_price": 9}, "invalid cycles -5"),
        (
            {"task_id": "t1", "cycles": 5, "input_bytes": 10, "deadline_s": 0, "max_price": 9},
            "deadline must be in the future",
        ),
        ({"task_id": "t/1", "cycles": 5, "input_bytes": 10, "deadline_s": 9, "max_price": 9}, "invalid task id 't/1'"),
        (
            {"task_id": "t1", "cycles": 5, "input_bytes": 2_000_000, "deadline_s": 9, "max_price": 9},
            "must be 1 to 1048544",
        ),
        ({"task_id": "t1", "cycles": "5", "input_bytes": 10, "deadline_s": 9, "max_price": 9}, "invalid cycles '5'"),
        ({"task_id": "t1", "cycles": 5}, "lacks deadline_s, input_bytes, max_price"),
        ({"task_id": "t1", "colour": "red"}, "unknown field"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_orders_are_refused_with_one_line(
    served: tuple[EdgeAgent, AgentClient], body: object, message: str
) -> None:
    agent, client = served
    with pytest.raises(ConfigError, match=message) as err:
        client._call("POST", "/tasks", body)
    assert "\n" not in str(err.value)
    assert agent.status()["open_requests"] == 0


def test_transfer_of_an_unknown_task_and_unknown_paths(served: tuple[EdgeAgent, AgentClient]) -> None:
    _, client = served
    with pytest.raises(ConfigError, match="Edge3 has no open task t9"):
        client.transfer("t9", "Edge2MSP")
    with pytest.raises(NetworkError, match="404"):
        client._call("GET", "/nope")
    assert client.traces("x") == {"actor": "Edge3MSP", "marks": [], "txs": []}


def test_an_agent_that_is_not_there_is_a_network_error() -> None:
    with pytest.raises(NetworkError, match="does not answer"):
        AgentClient("http://127.0.0.1:9", timeout=0.5).status()


def test_orders_round_trip_through_json() -> None:
    order = TaskOrder(task_id="t-1", cycles=10, input_bytes=5, deadline_s=30, max_price=4, delegate=True, seed=3)
    assert TaskOrder.from_json(order.to_json()) == order


def test_an_expected_transfer_is_registered_and_a_bad_one_refused(served: tuple[EdgeAgent, AgentClient]) -> None:
    agent, client = served
    client.expect_transfer("t9", "Edge1MSP", 40)
    assert agent._expected["t9"] == ("Edge1MSP", 40)
    for body in ({"from": "Edge1MSP"}, {"from": "", "maxEscrow": 1}, {"from": "Edge1MSP", "maxEscrow": True}, [1]):
        with pytest.raises(ConfigError, match="an expected transfer needs") as err:
            client._call("POST", "/tasks/t8/expect", body)
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="cannot take over its own task"):
        client.expect_transfer("t8", "Edge3MSP", 1)
    assert "t8" not in agent._expected


def test_acting_for_the_org_needs_its_secret(served: tuple[EdgeAgent, AgentClient]) -> None:
    agent, client = served
    order = {"task_id": "t1", "cycles": 5, "input_bytes": 10, "deadline_s": 30, "max_price": 9}
    for stranger in (AgentClient(client.url, timeout=2), AgentClient(client.url, timeout=2, secret="t" * 64)):
        assert stranger.status()["org"] == "Edge3"  # the load the Cloud samples stays open
        with pytest.raises(NetworkError, match="401: this endpoint needs the org's agent secret"):
            stranger._call("POST", "/tasks", order)
        with pytest.raises(NetworkError, match="401"):
            stranger.expect_transfer("t9", "Edge1MSP", 10**6)
        with pytest.raises(NetworkError, match="401"):
            stranger.traces("")
    assert agent.status()["open_requests"] == 0 and agent._expected == {}
    assert "s" * 64 not in repr(client)


def test_a_request_with_a_bad_content_length_is_refused_at_once(served: tuple[EdgeAgent, AgentClient]) -> None:
    import http.client
    import urllib.parse

    _, client = served
    url = urllib.parse.urlsplit(client.url)
    for length in ("-5", "abc", "1e3"):
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=2)
        conn.putrequest("POST", "/tasks")
        conn.putheader("Authorization", f"Bearer {SECRET}")
        conn.putheader("Content-Length", length)
        conn.endheaders()
        response = conn.getresponse()  # answered at once: nothing waits for a body
        assert response.status == 400 and b"invalid Content-Length" in response.read()
        conn.close()


def test_an_agent_secret_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "agents" / "Edge1.secret"
    ensure_secret(path)
    first = read_secret(path)
    assert len(first) == 64 and stat.S_IMODE(path.stat().st_mode) == 0o400
    ensure_secret(path)
    assert read_secret(path) == first
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(ConfigError, match="is empty or too short") as err:
        read_secret(short)
    assert "abc" not in str(err.value)
    with pytest.raises(ConfigError, match="cannot read the agent secret"):
        read_secret(tmp_path / "missing")
    with pytest.raises(ConfigError, match="too short"):
        AgentServer(None, secret="x")  # type: ignore[arg-type]
