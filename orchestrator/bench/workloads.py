"""Workloads, registered by name so a benchmark YAML picks one: what each transaction of a round calls.

A workload only decides *what* to call (function, arguments, which of the worker's org clients);
the worker decides *when* (the rate controller) and records *how it went*. Writes are submitted
(endorse → order → commit), reads are evaluated on one peer.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "WORKLOADS",
    "Call",
    "GetEdge",
    "ListEdges",
    "ReadTask",
    "RequestTask",
    "Workload",
    "WorkloadOptions",
    "make_workload",
    "parse_workload_options",
    "register_workload",
]

Kind = Literal["submit", "evaluate"]
# Submit one set-up transaction through client ``i``: (client, function, args) -> committed valid?
SetupSubmit = Callable[[int, str, Sequence[str]], Awaitable[bool]]


class WorkloadOptions(BaseModel):
    """Options of one workload; ``type`` names it in the registry."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str


@dataclass(frozen=True, slots=True)
class Call:
    """One chaincode call: through which of the worker's clients, which function, which arguments."""

    client: int
    function: str
    args: tuple[str, ...]


class Workload(ABC):
    """What one worker sends in one round."""

    name: ClassVar[str]
    kind: ClassVar[Kind]
    options_model: ClassVar[type[WorkloadOptions]]
    # The caller's org must be a registered edge (the runner registers every client org first).
    needs_edges: ClassVar[bool] = False
    # Transaction functions it calls (what ``export-caliper`` reproduces).
    functions: ClassVar[tuple[str, ...]]

    def __init__(self, options: WorkloadOptions, *, worker: int, run_id: str, clients: Sequence[str]) -> None:
        if not clients:
            raise ValueError("a workload needs at least one client org")
        self.options = options
        self.worker = worker
        self.run_id = run_id
        self.clients = tuple(clients)  # MSP ids, in the worker's client order

    async def prepare(self, submit: SetupSubmit) -> None:
        """Set up before the round's clock starts (e.g. write what the reads will read)."""
        return None

    @abstractmethod
    def call(self, seq: int) -> Call:
        """The call of this worker's ``seq``-th transaction (``seq`` is unique per worker for the whole run)."""

    def client_for(self, seq: int) -> int:
        """Round-robin over the worker's org clients, so the load spreads over every endorsing peer."""
        return seq % len(self.clients)


WORKLOADS: dict[str, type[Workload]] = {}
_W = TypeVar("_W", bound=type[Workload])


def register_workload(cls: _W) -> _W:
    """Class decorator: make ``cls`` selectable as ``workload: {type: <cls.name>}``."""
    if cls.name in WORKLOADS:
        raise ValueError(f"workload {cls.name!r} is registered twice")
    WORKLOADS[cls.name] = cls
    return cls


def parse_workload_options(data: Any) -> WorkloadOptions:
    """Validate a ``workload:`` mapping with the options model of the workload it names."""
    if isinstance(data, WorkloadOptions):
        return data
    if isinstance(data, str):
        data = {"type": data}
    if not isinstance(data, dict):
        raise ValueError(f"must be a workload name or a mapping with a 'type', one of {', '.join(sorted(WORKLOADS))}")
    name = data.get("type")
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload type {name!r}: choose one of {', '.join(sorted(WORKLOADS))}")
    return WORKLOADS[name].options_model.model_validate(data)


def make_workload(options: WorkloadOptions, *, worker: int, run_id: str, clients: Sequence[str]) -> Workload:
    return WORKLOADS[options.type](options, worker=worker, run_id=run_id, clients=clients)


def task_id(run_id: str, worker: int, seq: int) -> str:
    """A task id unique per run, worker and sequence number (matches the chaincode's id pattern)."""
    return f"{run_id}-w{worker}-{seq}"


def payload_hash(task: str) -> str:
    return hashlib.sha256(task.encode()).hexdigest()


# ---- request-task (write) ----------------------------------------------------------------------
class RequestTaskOptions(WorkloadOptions):
    cpu_cycles: int = Field(2_000_000_000, ge=1, le=2**53 - 1)
    input_bytes: int = Field(1_000_000, ge=1, le=2**53 - 1)
    deadline_s: int = Field(3600, ge=60, le=10**7, description="Deadline, seconds after the send.")
    max_price: int = Field(10, ge=1, le=2**53 - 1)


@register_workload
class RequestTask(Workload):
    """Each transaction records a new task (``RequestTask``) as the calling edge: one new key, no conflicts."""

    name = "request-task"
    kind = "submit"
    options_model = RequestTaskOptions
    needs_edges = True
    functions = ("RequestTask",)

    def call(self, seq: int) -> Call:
        assert isinstance(self.options, RequestTaskOptions)
        o = self.options
        task = task_id(self.run_id, self.worker, seq)
        deadline = int(time.time()) + o.deadline_s
        args = (task, str(o.cpu_cycles), str(o.input_bytes), str(deadline), str(o.max_price), payload_hash(task))
        return Call(self.client_for(seq), "RequestTask", args)


# ---- read-task (read) --------------------------------------------------------------------------
class ReadTaskOptions(WorkloadOptions):
    seed_tasks: int = Field(10, ge=1, le=10_000, description="Tasks each worker writes first, then reads in turn.")


@register_workload
class ReadTask(Workload):
    """Each transaction reads a task (``ReadTask``, evaluate); each worker first writes ``seed_tasks``."""

    name = "read-task"
    kind = "evaluate"
    options_model = ReadTaskOptions
    needs_edges = True
    functions = ("ReadTask",)

    def __init__(self, options: WorkloadOptions, *, worker: int, run_id: str, clients: Sequence[str]) -> None:
        super().__init__(options, worker=worker, run_id=run_id, clients=clients)
        self._tasks: list[str] = []

    async def prepare(self, submit: SetupSubmit) -> None:
        import asyncio

        assert isinstance(self.options, ReadTaskOptions)
        batch = secrets.token_hex(3)  # every round seeds its own tasks
        names = [f"{self.run_id}-seed{batch}-w{self.worker}-{i}" for i in range(self.options.seed_tasks)]
        deadline = str(int(time.time()) + 10**6)

        async def seed(i: int, name: str) -> str | None:
            args = (name, "1000000000", "1000", deadline, "10", payload_hash(name))
            return name if await submit(i % len(self.clients), "RequestTask", args) else None

        written = await asyncio.gather(*(seed(i, n) for i, n in enumerate(names)))
        self._tasks = [n for n in written if n is not None]
        if not self._tasks:
            raise RuntimeError("read-task: none of the seed tasks could be written")

    def call(self, seq: int) -> Call:
        return Call(self.client_for(seq), "ReadTask", (self._tasks[seq % len(self._tasks)],))


# ---- list-edges / get-edge (reads) -------------------------------------------------------------
class NoOptions(WorkloadOptions):
    pass


@register_workload
class ListEdges(Workload):
    """Each transaction lists every registered edge (``ListEdges``, evaluate: a range scan)."""

    name = "list-edges"
    kind = "evaluate"
    options_model = NoOptions
    functions = ("ListEdges",)

    def call(self, seq: int) -> Call:
        return Call(self.client_for(seq), "ListEdges", ())


@register_workload
class GetEdge(Workload):
    """Each transaction reads the calling org's edge record (``GetEdge``, evaluate: one key)."""

    name = "get-edge"
    kind = "evaluate"
    options_model = NoOptions
    needs_edges = True
    functions = ("GetEdge",)

    def call(self, seq: int) -> Call:
        client = self.client_for(seq)
        return Call(client, "GetEdge", (self.clients[client],))
