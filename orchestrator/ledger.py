"""The task-sharing contract from Python: one method per chaincode transaction, via the Gateway."""

from __future__ import annotations

import json
from types import TracebackType
from typing import TYPE_CHECKING, Any

from orchestrator.errors import NetworkError
from orchestrator.gateway import Contract, Gateway, Identity, SubmitResult

if TYPE_CHECKING:
    from orchestrator.network import NetworkSpec


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

    # ---- tasks -------------------------------------------------------------------------------
    def request_task(
        self,
        task_id: str,
        *,
        cpu_cycles: int,
        input_bytes: int,
        deadline_unix: int,
        max_price: int,
        payload_hash: str,
    ) -> SubmitResult:
        return self.contract.submit(
            "RequestTask", task_id, str(cpu_cycles), str(input_bytes), str(deadline_unix), str(max_price), payload_hash
        )

    def read_task(self, task_id: str) -> dict[str, Any]:
        return _json(self.contract.evaluate("ReadTask", task_id))


def _json(data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object from the chaincode, got {type(value).__name__}")
    return value
