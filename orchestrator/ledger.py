"""The task-sharing contract from Python: one method per chaincode transaction, via the Gateway."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from orchestrator.errors import LedgerError, NetworkError
from orchestrator.gateway import Contract, Gateway, Identity, SubmitResult

if TYPE_CHECKING:
    from orchestrator.network import NetworkSpec

#: The Cloud's MSP ID as the chaincode knows it (``CloudMSPID`` in chaincode/mectask/model.go).
CLOUD_MSP_ID = "CloudMSP"


class Ledger:
    """A connection, as one org's user, to the ``mectask`` chaincode through that org's peer."""

    def __init__(self, gateway: Gateway, contract: Contract, *, org: str, msp_id: str) -> None:
        self._gateway = gateway
        self.contract = contract
        self.org = org
        self.msp_id = msp_id

    @classmethod
    def connect(cls, spec: NetworkSpec, org_name: str, *, user: str = "User1") -> Ledger:
        t = spec.topology
        org = t.org(org_name)
        peer = t.peer_of(org)
        if not spec.state.user_msp(org, user).is_dir():
            raise NetworkError(
                f"network {spec.project!r} has no identities in {spec.state.root} (is it up?): run 'make up'"
            )
        identity = Identity.from_msp_dir(org.msp_id, spec.state.user_msp(org, user))
        gateway = Gateway(
            endpoint=f"{t.ports.bind}:{peer.host_port}",
            tls_root_cert=spec.state.org_tls_ca(org).read_bytes(),
            identity=identity,
            server_name_override=peer.host,
        )
        contract = gateway.network(t.channel).contract(t.chaincode.name)
        return cls(gateway, contract, org=org.name, msp_id=org.msp_id)

    def close(self) -> None:
        self._gateway.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- edges -------------------------------------------------------------------------------
    def register_edge(self, *, cpu_cycles_per_sec: int, memory_mb: int, price_per_gigacycle: int) -> SubmitResult:
        return self.contract.submit("RegisterEdge", str(cpu_cycles_per_sec), str(memory_mb), str(price_per_gigacycle))

    def get_edge(self, msp_id: str) -> dict[str, Any]:
        return _json(self.contract.evaluate("GetEdge", msp_id))

    def list_edges(self) -> list[dict[str, Any]]:
        result = json.loads(self.contract.evaluate("ListEdges") or b"[]")
        return list(result or [])

    def edge_registered(self, msp_id: str) -> bool:
        return any(e.get("mspId") == msp_id or e.get("id") == msp_id for e in self.list_edges())

    # ---- tasks: the lifecycle (see chaincode/README.md for who calls and who endorses) -------
    def parties(self, task_id: str) -> list[str]:
        """MSP IDs whose peers must endorse a two-party transaction: requester and executor."""
        task = self.read_task(task_id)
        return [m for m in (task["requester"], task.get("executor") or "") if m]

    def request_task(
        self,
        task_id: str,
        *,
        cpu_cycles: int,
        input_bytes: int,
        deadline_unix: int,
        max_price: int,
        payload_hash: str,
        payload: bytes | None = None,
        delegate_award: bool = False,
    ) -> SubmitResult:
        """Ask for a task. The payload travels in transient data into this org's private collection."""
        args = [task_id, str(cpu_cycles), str(input_bytes), str(deadline_unix), str(max_price), payload_hash]
        function = "RequestTask"
        if delegate_award:
            function = "RequestTaskWithOptions"
            args.append(json.dumps({"delegateAward": True}))
        transient = {"payload": payload} if payload is not None else None
        return self.contract.submit(function, *args, transient=transient, endorsing_orgs=[self.msp_id])

    def shortlist(self, task_id: str, candidates: Sequence[str]) -> SubmitResult:
        return self.contract.submit("Shortlist", task_id, json.dumps(list(candidates)), endorsing_orgs=[self.msp_id])

    def offer(self, task_id: str, *, willing: bool, price: int = 0, estimated_seconds: int = 0) -> SubmitResult:
        return self.contract.submit(
            "Offer",
            task_id,
            "true" if willing else "false",
            str(price if willing else 0),
            str(estimated_seconds if willing else 0),
            endorsing_orgs=[self.msp_id],
        )

    def award(self, task_id: str, executor: str, price: int, *, payload: bytes | None = None) -> SubmitResult:
        """Requester (with the payload) or Cloud (delegated, without it) picks the executor at the price of
        the offer it chose: the chaincode refuses the award if the committed offer is not ``price``."""
        requester = self.read_task(task_id)["requester"]
        transient = {"payload": payload} if payload is not None else None
        return self.contract.submit(
            "Award", task_id, executor, str(price), transient=transient, endorsing_orgs=_unique([requester, executor])
        )

    def current_offer(self, task_id: str, executor: str) -> dict[str, Any]:
        """``executor``'s committed offer in the task's current round; LedgerError if it made none."""
        task = self.read_task(task_id)
        for offer in self.offers(task_id):
            if offer.get("mspId") == executor and offer.get("round") == task.get("round"):
                return offer
        raise LedgerError(f"edge {executor} has made no offer for task {task_id} in round {task.get('round')}")

    def send_payload(self, task_id: str, payload: bytes) -> SubmitResult:
        return self.contract.submit(
            "SendPayload", task_id, transient={"payload": payload}, endorsing_orgs=self.parties(task_id)
        )

    def submit_result(self, task_id: str, result: bytes) -> SubmitResult:
        digest = hashlib.sha256(result).hexdigest()
        return self.contract.submit(
            "SubmitResult", task_id, digest, transient={"result": result}, endorsing_orgs=self.parties(task_id)
        )

    def settle(self, task_id: str) -> SubmitResult:
        return self.contract.submit("Settle", task_id, endorsing_orgs=self.parties(task_id))

    def dispute(self, task_id: str, reason: str) -> SubmitResult:
        return self.contract.submit("Dispute", task_id, reason, endorsing_orgs=self.parties(task_id))

    def expire(self, task_id: str, *, without_executor: bool = False) -> SubmitResult:
        """After the deadline: close an open task; an awarded one returns its escrow to the requester.

        An awarded task is endorsed by its requester and executor or, with ``without_executor``, by its
        requester and the Cloud: the task key's policy accepts either, so a task whose executor's org
        was revoked or removed (or whose executor's peer is down) can still expire."""
        task = self.read_task(task_id)
        orgs = expire_endorsers(task, self.msp_id, without_executor=without_executor)
        return self.contract.submit("Expire", task_id, endorsing_orgs=orgs)

    def reassign(self, task_id: str, *, deadline_unix: int) -> SubmitResult:
        return self.contract.submit("Reassign", task_id, str(deadline_unix), endorsing_orgs=[self.msp_id])

    def transfer_ownership(self, task_id: str, new_owner: str, *, payload: bytes | None = None) -> SubmitResult:
        task = self.read_task(task_id)
        orgs = self.parties(task_id) if task["status"] == "AWARDED" else [self.msp_id]
        if payload is not None:
            orgs = _unique([*orgs, new_owner])
        transient = {"payload": payload} if payload is not None else None
        return self.contract.submit("TransferOwnership", task_id, new_owner, transient=transient, endorsing_orgs=orgs)

    def accept_ownership(self, task_id: str, *, max_escrow: int) -> SubmitResult:
        """Take over a task transferred to this org, paying the old owner its escrow: at most
        ``max_escrow`` (the chaincode refuses the transfer if the task holds more)."""
        task = self.read_task(task_id)
        orgs = self.parties(task_id) if task["status"] == "AWARDED" else [self.msp_id]
        return self.contract.submit("AcceptOwnership", task_id, str(max_escrow), endorsing_orgs=orgs)

    # ---- queries -------------------------------------------------------------------------------
    def read_task(self, task_id: str) -> dict[str, Any]:
        return _json(self.contract.evaluate("ReadTask", task_id))

    def task_history(self, task_id: str) -> list[dict[str, Any]]:
        return _json_list(self.contract.evaluate("GetTaskHistory", task_id))

    def tasks_by_status(self, status: str) -> list[dict[str, Any]]:
        return _json_list(self.contract.evaluate("ListTasksByStatus", status))

    def tasks_by_org(self, msp_id: str) -> list[dict[str, Any]]:
        return _json_list(self.contract.evaluate("ListTasksByOrg", msp_id))

    def offers(self, task_id: str) -> list[dict[str, Any]]:
        return _json_list(self.contract.evaluate("ListOffers", task_id))

    def balance(self, msp_id: str) -> dict[str, Any]:
        return _json(self.contract.evaluate("GetBalance", msp_id))

    def read_payload(self, task_id: str) -> bytes:
        """The payload, from this org's own private collection (requester or executor only)."""
        return self.contract.evaluate("ReadPayload", task_id)

    def read_result(self, task_id: str) -> bytes:
        return self.contract.evaluate("ReadResult", task_id)

    def verify_payload(self, task_id: str, payload: bytes) -> dict[str, Any]:
        return _json(self.contract.evaluate("VerifyPayload", task_id, transient={"payload": payload}))

    def audit_credits(self) -> dict[str, Any]:
        return _json(self.contract.evaluate("AuditCredits"))


def expire_endorsers(task: dict[str, Any], own_msp_id: str, *, without_executor: bool = False) -> list[str]:
    """Whose peers endorse Expire of ``task`` (as read): requester + executor, or requester + Cloud, for
    an awarded task; before an award any one peer (the caller's own)."""
    if task.get("status") != "AWARDED":
        return [own_msp_id]
    second = CLOUD_MSP_ID if without_executor else task.get("executor") or ""
    return _unique([task["requester"], second])


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _json_list(data: bytes) -> list[dict[str, Any]]:
    value = json.loads(data or b"[]")
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"expected a JSON array from the chaincode, got {type(value).__name__}")
    return value


def _json(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object from the chaincode, got {type(value).__name__}")
    return value
