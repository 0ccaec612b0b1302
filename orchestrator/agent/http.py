"""The agent's small HTTP endpoint, and a client for it.

The cloud monitor reads ``GET /status`` (queue, backlog, measured rate, CPU use) once a second;
the run driver posts task orders and collects the agent's traces. It listens inside the Docker
network and is published on the host's loopback only (``Node.agent_port``). Every request that acts
for the org or reads its activity (``POST``, ``/traces``) must carry the org's agent secret as
``Authorization: Bearer <secret>`` (a file of mode 0400 in the network's state directory,
``StateDir.agent_secret``, mounted read-only into the agent's container; never logged); without it
the agent answers 401 and does nothing. ``/healthz`` and ``/status`` (the load the Cloud monitor
samples) stay open.

=========================  ======================================================================
``GET /healthz``           ``{"ready": true}`` once the agent follows the event stream (503 before)
``GET /status``            the agent's state (see ``EdgeAgent.status``)
``POST /tasks``            a :class:`~orchestrator.agent.orders.TaskOrder` as JSON: originate it (202)
``POST /tasks/<id>/transfer``  ``{"to": "<MSP ID>"}``: hand the task over (202)
``POST /tasks/<id>/expect``    ``{"from": "<MSP ID>", "maxEscrow": n}``: agree to take the task over
                               when that edge proposes it, paying at most n (200); the agent
                               accepts no transfer it was not told to expect
``GET /traces?prefix=p``   stage and transaction marks of tasks whose ID starts with ``p`` (secret)
=========================  ======================================================================
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import urllib.error
import urllib.parse
import urllib.request
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from orchestrator.agent.orders import TaskOrder
from orchestrator.errors import ConfigError, MecFabError, NetworkError

if TYPE_CHECKING:
    from orchestrator.agent.agent import EdgeAgent

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s", format % args)

    def _send(self, status: HTTPStatus, body: object) -> None:
        data = json.dumps(body, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        """True if the request carries this agent's secret; otherwise answers 401 (and reads nothing)."""
        given = self.headers.get("Authorization", "")
        expected = f"Bearer {self.server.secret}"
        if hmac.compare_digest(given.encode(), expected.encode()):
            return True
        self.close_connection = True  # the body, if any, is never read
        self._send(HTTPStatus.UNAUTHORIZED, {"error": "this endpoint needs the org's agent secret"})
        return False

    def _body(self) -> object:
        raw_length = self.headers.get("Content-Length") or "0"
        if not raw_length.isdigit():
            raise ConfigError(f"invalid Content-Length {raw_length[:20]!r}: must be a whole number of bytes")
        length = int(raw_length)
        if length > MAX_BODY:
            raise ConfigError(f"request body of {length} bytes is over {MAX_BODY}")
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigError(f"request body is not JSON: {exc}") from None

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        agent = self.server.agent
        if url.path == "/healthz":
            ready = agent.ready
            self._send(HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE, {"ready": ready})
        elif url.path == "/status":
            self._send(HTTPStatus.OK, agent.status())
        elif url.path == "/traces":
            if not self._authorized():
                return
            prefix = urllib.parse.parse_qs(url.query).get("prefix", [""])[0]
            self._send(HTTPStatus.OK, agent.traces(prefix))
        else:
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {url.path}"})

    def do_POST(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        agent = self.server.agent
        parts = [p for p in url.path.split("/") if p]
        if not self._authorized():
            return
        try:
            if parts == ["tasks"]:
                order = TaskOrder.from_json(self._body())
                agent.originate(order)
                self._send(HTTPStatus.ACCEPTED, {"task_id": order.task_id})
            elif len(parts) == 3 and parts[0] == "tasks" and parts[2] == "transfer":
                body = self._body()
                to = body.get("to") if isinstance(body, dict) else None
                if not isinstance(to, str) or not to:
                    raise ConfigError('a transfer needs {"to": "<MSP ID>"}')
                agent.transfer(parts[1], to)
                self._send(HTTPStatus.ACCEPTED, {"task_id": parts[1], "to": to})
            elif len(parts) == 3 and parts[0] == "tasks" and parts[2] == "expect":
                body = self._body()
                sender = body.get("from") if isinstance(body, dict) else None
                most = body.get("maxEscrow") if isinstance(body, dict) else None
                if not isinstance(sender, str) or not sender or isinstance(most, bool) or not isinstance(most, int):
                    raise ConfigError('an expected transfer needs {"from": "<MSP ID>", "maxEscrow": <credits>}')
                agent.expect_transfer(parts[1], sender, most)
                self._send(HTTPStatus.OK, {"task_id": parts[1], "from": sender, "maxEscrow": most})
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {url.path}"})
        except ConfigError as exc:
            self.close_connection = True  # a body left unread must not be taken for the next request
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
        except MecFabError as exc:
            self._send(HTTPStatus.CONFLICT, {"error": str(exc)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], agent: EdgeAgent, secret: str) -> None:
        super().__init__(address, _Handler)
        self.agent = agent
        self.secret = secret


class AgentServer:
    """Serves an agent's endpoint on ``host:port`` (port 0 picks a free one) from a thread."""

    def __init__(self, agent: EdgeAgent, host: str = "127.0.0.1", port: int = 0, *, secret: str) -> None:
        if len(secret) < 32:
            raise ConfigError("the agent secret is too short (at least 32 characters)")
        try:
            self._server = _Server((host, port), agent, secret)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self._thread = threading.Thread(target=self._server.serve_forever, name="agent-http", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class AgentClient:
    """Talks to one agent's endpoint."""

    def __init__(self, url: str, *, timeout: float = 5.0, secret: str | None = None) -> None:
        """``secret``: the org's agent secret, needed to act for the org (not for ``status``)."""
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._secret = secret

    def __repr__(self) -> str:
        return f"AgentClient({self.url!r})"  # never the secret

    def _call(self, method: str, path: str, body: object | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if self._secret is not None:
            headers["Authorization"] = f"Bearer {self._secret}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except (ValueError, AttributeError):
                message = exc.reason
            if exc.code == HTTPStatus.BAD_REQUEST:
                raise ConfigError(str(message)) from None
            raise NetworkError(f"agent at {self.url}: {path} answered {exc.code}: {message}") from None
        except (OSError, urllib.error.URLError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NetworkError(f"agent at {self.url} does not answer ({reason})") from None

    def healthy(self) -> bool:
        try:
            return bool(self._call("GET", "/healthz").get("ready"))
        except NetworkError:
            return False

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/status")
        return result

    def originate(self, order: TaskOrder) -> None:
        self._call("POST", "/tasks", order.to_json())

    def transfer(self, task_id: str, new_owner: str) -> None:
        self._call("POST", f"/tasks/{urllib.parse.quote(task_id)}/transfer", {"to": new_owner})

    def expect_transfer(self, task_id: str, from_msp: str, max_escrow: int) -> None:
        self._call("POST", f"/tasks/{urllib.parse.quote(task_id)}/expect", {"from": from_msp, "maxEscrow": max_escrow})

    def traces(self, prefix: str = "") -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/traces?" + urllib.parse.urlencode({"prefix": prefix}))
        return result
