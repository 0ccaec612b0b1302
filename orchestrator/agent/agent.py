"""An edge server's agent: listens to the contract's events through its own org's peer and plays
every role an edge has in the task-sharing workflow (first paper, Fig. 2).

* **Candidate** (step 3): shortlisted by the Cloud, it decides from its own state whether it is
  willing and at what price (:mod:`orchestrator.agent.decide`) and submits an offer.
* **Executor** (step 5): awarded, it reads the payload from its org's private collection, queues
  the task, executes it for real (:mod:`orchestrator.agent.work`) and submits the result; it keeps
  accepting offers and awards while tasks queue up.
* **Requester** (steps 1 and 4): told to originate a task (by the workload), it requests it with the
  payload as private data, then awards the best offer itself (or lets the Cloud award and sends the
  payload afterwards), checks the result and settles. At the deadline it expires the task and puts
  it up again (``Reassign``), up to the order's limit. It can hand a task over to another edge
  (``TransferOwnership``, the mobility case) and takes over tasks handed to it.

Everything about one task runs in order on one worker (a keyed serial executor), so events of
the same task never race; different tasks proceed in parallel. Each ledger call is recorded with
its phase timings in a :class:`~orchestrator.agent.trace.TraceBook`, and every stage is marked.
An event that cannot be parsed is logged and skipped.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from orchestrator.agent.connection import chain_height
from orchestrator.agent.decide import AgentLoad, AwardRule, Bid, decide_offer, pick_winner
from orchestrator.agent.events import OPEN_STATUSES, EventParseError, TaskEvent, parse_event
from orchestrator.agent.orders import TaskOrder
from orchestrator.agent.trace import TraceBook
from orchestrator.agent.txn import submit
from orchestrator.agent.work import (
    NOMINAL_CORE_HZ,
    BackgroundLoad,
    Cancelled,
    CpuMeter,
    check_result,
    make_payload,
    measure_hz,
    result_document,
    run_chain,
    work_rounds,
)
from orchestrator.errors import ConfigError, LedgerError
from orchestrator.gateway import ChaincodeEvent, ChaincodeEventsError, ChaincodeEventStream, GatewayError
from orchestrator.ledger import Ledger
from orchestrator.sealing import seal, unseal
from orchestrator.topology import EdgeServerSpec

log = logging.getLogger(__name__)

STATUS_VERSION = 1


class KeyedExecutor:
    """Runs callables on a thread pool: one at a time per key, in submission order."""

    def __init__(self, workers: int, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Callable[[], None]]] = {}
        self._closed = False

    def submit(self, key: str, fn: Callable[[], None]) -> None:
        with self._lock:
            if self._closed:
                return
            pending = self._queues.get(key)
            if pending is not None:
                pending.append(fn)
                return
            self._queues[key] = deque([fn])
        self._pool.submit(self._drain, key)

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                pending = self._queues[key]
                if not pending:
                    del self._queues[key]
                    return
                fn = pending.popleft()
            try:
                fn()
            except Exception:
                log.exception("handling task %s failed", key)

    def pending(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class AgentSettings:
    """An agent's capacity, price and behaviour (capacity and price come from the topology)."""

    cpus: float = 1.0
    memory_mb: int = 256
    price_per_gigacycle: int = 30
    background_load: float = 0.0
    background_period_s: float = 0.0
    max_queue: int = 8
    offer_timeout_s: float = 4.0  # how long a requester waits for offers before deciding
    expire_grace_s: float = 1.5  # after the deadline, before the requester expires its task
    handler_threads: int = 16
    verify_results: bool = False  # recompute the whole chain before settling

    def __post_init__(self) -> None:
        if not 0 < self.cpus <= 64:
            raise ConfigError(f"invalid cpus {self.cpus}: must be in (0, 64]")
        if not 0 <= self.background_load < 1:
            raise ConfigError(f"invalid background load {self.background_load}: must be in [0, 1)")
        if self.price_per_gigacycle < 1:
            raise ConfigError(f"invalid price {self.price_per_gigacycle}: must be at least 1 credit per gigacycle")
        if self.max_queue < 1:
            raise ConfigError(f"invalid max queue {self.max_queue}: must be at least 1")

    @classmethod
    def from_server(cls, server: EdgeServerSpec, **overrides: Any) -> AgentSettings:
        base = {
            "cpus": server.cpus,
            "memory_mb": server.memory_mb,
            "price_per_gigacycle": server.price_per_gigacycle,
            "background_load": server.background_load,
            "background_period_s": server.background_period_s,
        }
        return cls(**(base | {k: v for k, v in overrides.items() if v is not None}))

    @property
    def nominal_hz(self) -> int:
        return int(self.cpus * NOMINAL_CORE_HZ)


@dataclass
class _Request:
    """A task this edge requested (or took over), as it progresses."""

    task_id: str
    payload: bytes | None
    payload_hash: str
    cycles: int
    input_bytes: int
    max_price: int
    deadline_s: int
    delegate: bool = False
    award_rule: AwardRule = "rank"
    max_reassign: int = 0
    deadline: float = 0.0
    status: str = "REQUESTED"
    round: int = 0
    candidates: tuple[str, ...] = ()
    bids: dict[str, Bid] = field(default_factory=dict)
    round_started: float = 0.0
    awarding: bool = False
    executor: str = ""
    reassigns: int = 0
    next_expire_try: float = 0.0
    expire_tries: int = 0
    completed: TaskEvent | None = None  # the TaskCompleted event, kept until the task is settled
    next_settle_try: float = 0.0
    next_award_try: float = 0.0
    tick_pending: bool = False
    closed: bool = False


@dataclass
class _Job:
    """A task this edge executes."""

    task_id: str
    requester: str
    cycles: int
    input_bytes: int
    payload_hash: str
    deadline: float
    awarded_seen: float
    payload: bytes | None = None
    fetched_at: float = 0.0
    state: str = "waiting_payload"  # queued, running, submitting, done, cancelled
    progress: float = 0.0
    cancel: threading.Event = field(default_factory=threading.Event)


class EdgeAgent:
    """See the module doc. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(self, ledger: Ledger, settings: AgentSettings) -> None:
        self.ledger = ledger
        self.org = ledger.org
        self.msp_id = ledger.msp_id
        self.settings = settings
        self.book = TraceBook(self.msp_id)
        self._tasks = KeyedExecutor(settings.handler_threads, f"agent-{self.org}")
        self._lock = threading.RLock()
        self._requests: dict[str, _Request] = {}
        # Transfers this edge agreed to take: task ID -> (from MSP ID, the most escrow it pays).
        self._expected: dict[str, tuple[str, int]] = {}
        self._jobs: dict[str, _Job] = {}
        self._promised: dict[str, tuple[float, int]] = {}  # willing offers: task -> (until, cycles)
        self._run_queue: queue.Queue[_Job | None] = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._stream: ChaincodeEventStream | None = None
        self._threads: list[threading.Thread] = []
        self._next_block = 0
        self.background = BackgroundLoad(
            share=settings.background_load, cpus=settings.cpus, period_s=settings.background_period_s
        )
        self._cpu = CpuMeter(settings.cpus)
        self.cpu_share = 0.0
        self.effective_hz = float(settings.nominal_hz)
        self.overhead_s = 2.0
        self.started_at = 0.0
        self.counters: dict[str, int] = {
            "events": 0,
            "parse_errors": 0,
            "offers": 0,
            "declines": 0,
            "executed": 0,
            "failed": 0,
            "requested": 0,
            "settled": 0,
            "earned": 0,
        }

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        """Measure, register as an edge if needed, subscribe to events, start working."""
        self.started_at = time.time()
        self.background.start()
        self.effective_hz = measure_hz()
        self._register()
        self._next_block = chain_height(self.ledger)
        for name, target in (("events", self._event_loop), ("worker", self._worker), ("ticker", self._ticker)):
            thread = threading.Thread(target=target, name=f"{self.org}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._ready.wait(timeout=10)
        self._recover()
        log.info(
            "agent %s ready from block %d: %.2f cpus, %.2e cycles/s measured, price %d/Gcycle",
            self.org,
            self._next_block,
            self.settings.cpus,
            self.effective_hz,
            self.settings.price_per_gigacycle,
        )

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        self._run_queue.put(None)
        with self._lock:
            for job in self._jobs.values():
                job.cancel.set()
        self.background.stop()
        self._tasks.shutdown()
        for thread in self._threads:
            thread.join(timeout=3)

    def __enter__(self) -> EdgeAgent:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and not self._stop.is_set()

    def _register(self) -> None:
        s = self.settings
        try:
            edge = next((e for e in self.ledger.list_edges() if e.get("mspId") == self.msp_id), None)
        except GatewayError as exc:
            raise LedgerError(f"agent {self.org} cannot read the edges: {exc}") from exc
        wanted = {"cpuCyclesPerSec": s.nominal_hz, "memoryMB": s.memory_mb, "pricePerGigacycle": s.price_per_gigacycle}
        if edge is not None and all(edge.get(k) == v for k, v in wanted.items()):
            return
        submit(
            self.book,
            f"edge-{self.msp_id}",
            "RegisterEdge",
            lambda: self.ledger.register_edge(
                cpu_cycles_per_sec=s.nominal_hz, memory_mb=s.memory_mb, price_per_gigacycle=s.price_per_gigacycle
            ),
        )

    def _recover(self) -> None:
        """After a restart: pick up tasks the ledger says are still ours (nothing is lost)."""
        try:
            tasks = self.ledger.tasks_by_org(self.msp_id)
        except GatewayError as exc:
            log.warning("cannot list my tasks to recover them: %s", exc)
            return
        now = time.time()
        for task in tasks:
            status, task_id = task.get("status"), str(task.get("taskId", ""))
            if task.get("executor") == self.msp_id and status == "AWARDED" and task.get("deadline", 0) > now:
                self._tasks.submit(task_id, lambda t=task: self._recover_job(t))  # type: ignore[misc]
            elif task.get("requester") == self.msp_id and (status in OPEN_STATUSES or status == "COMPLETED"):
                self._tasks.submit(task_id, lambda t=task: self._adopt(t))  # type: ignore[misc]

    def _recover_job(self, task: dict[str, Any]) -> None:
        job = self._new_job(task["taskId"], task["requester"], task["cpuCycles"], task["inputBytes"], task)
        if task.get("payloadDelivered"):
            self._fetch(job)

    # ---- public API (the HTTP endpoint calls these) ----------------------------------------
    def originate(self, order: TaskOrder) -> None:
        """Request a task (asynchronously); refuses a task ID this agent already has."""
        with self._lock:
            if order.task_id in self._requests:
                raise ConfigError(f"task {order.task_id} was already requested by {self.org}")
            req = _Request(
                task_id=order.task_id,
                payload=None,
                payload_hash="",
                cycles=order.cycles,
                input_bytes=order.input_bytes,
                max_price=order.max_price,
                deadline_s=order.deadline_s,
                delegate=order.delegate,
                award_rule=order.award_rule,
                max_reassign=order.max_reassign,
            )
            self._requests[order.task_id] = req
        self._tasks.submit(order.task_id, lambda: self._originate(req, order))

    def transfer(self, task_id: str, new_owner: str) -> None:
        """Hand an open task of this edge to ``new_owner`` (an MSP ID), asynchronously."""
        with self._lock:
            req = self._requests.get(task_id)
        if req is None or req.closed:
            raise ConfigError(f"{self.org} has no open task {task_id}")
        if new_owner == self.msp_id:
            raise ConfigError(f"{self.org} already owns task {task_id}")
        self._tasks.submit(task_id, lambda: self._transfer(req, new_owner))

    def expect_transfer(self, task_id: str, from_msp: str, max_escrow: int) -> None:
        """Agree to take over ``task_id`` when ``from_msp`` proposes it, paying at most ``max_escrow``.

        A proposal nobody told the agent to expect is left alone: accepting one would make this edge
        pay the task's escrow for a task it never asked for (docs/security.md, consent)."""
        if from_msp == self.msp_id:
            raise ConfigError(f"{self.org} cannot take over its own task {task_id}")
        if max_escrow < 0:
            raise ConfigError(f"maxEscrow must be 0 or more, not {max_escrow}")
        with self._lock:
            self._expected[task_id] = (from_msp, max_escrow)

    def traces(self, prefix: str = "") -> dict[str, Any]:
        return self.book.export(prefix)

    def status(self) -> dict[str, Any]:
        with self._lock:
            jobs = list(self._jobs.values())
            promised = sum(c for until, c in self._promised.values() if until > time.time())
            open_requests = sum(1 for r in self._requests.values() if not r.closed)
            counters = dict(self.counters)
        running = [j for j in jobs if j.state == "running"]
        backlog = sum(
            j.cycles * (1.0 - j.progress) for j in jobs if j.state in ("waiting_payload", "queued", "running")
        )
        return {
            "version": STATUS_VERSION,
            "org": self.org,
            "msp_id": self.msp_id,
            "ready": self.ready,
            "time": time.time(),
            "started_at": self.started_at,
            "cpus": self.settings.cpus,
            "memory_mb": self.settings.memory_mb,
            "nominal_hz": self.settings.nominal_hz,
            "effective_hz": self.effective_hz,
            "price_per_gigacycle": self.settings.price_per_gigacycle,
            "background_share": self.background.active_share(),
            "cpu_share": self.cpu_share,
            "queue_len": sum(1 for j in jobs if j.state in ("waiting_payload", "queued", "running")),
            "running": running[0].task_id if running else None,
            "backlog_cycles": backlog,
            "promised_cycles": promised,
            "backlog_s": backlog / max(self.effective_hz, 1.0),
            "overhead_s": self.overhead_s,
            "open_requests": open_requests,
            "pending_handlers": self._tasks.pending(),
            **counters,
        }

    def load(self) -> AgentLoad:
        status = self.status()
        return AgentLoad(
            queue_len=status["queue_len"],
            backlog_cycles=status["backlog_cycles"] + status["promised_cycles"],
            effective_hz=self.effective_hz,
            cpu_share=self.cpu_share,
            overhead_s=self.overhead_s,
        )

    # ---- events ----------------------------------------------------------------------------
    def _event_loop(self) -> None:
        start_block, after_tx = self._next_block, None
        while not self._stop.is_set():
            try:
                stream = self.ledger.contract.network.chaincode_events(
                    self.ledger.contract.chaincode, start_block=start_block, after_tx_id=after_tx
                )
                self._stream = stream
                self._ready.set()
                for event in stream:
                    start_block, after_tx = event.block_number, event.tx_id
                    self.handle_event(event)
                    if self._stop.is_set():
                        return
            except ChaincodeEventsError as exc:
                log.warning("event stream of %s broke (%s); reconnecting from block %d", self.org, exc, start_block)
            self._stop.wait(1.0)

    def handle_event(self, event: ChaincodeEvent) -> None:
        """Route one chaincode event; an event that cannot be parsed is logged and skipped."""
        with self._lock:
            self.counters["events"] += 1
        try:
            task_event = parse_event(event)
        except EventParseError as exc:
            with self._lock:
                self.counters["parse_errors"] += 1
            log.warning("%s ignores an event it cannot parse: %s", self.org, exc)
            return
        if task_event is None or not self._concerns(task_event):
            return
        self._tasks.submit(task_event.task_id, lambda: self._on_event(task_event))

    def _concerns(self, ev: TaskEvent) -> bool:
        me = self.msp_id
        if me in (ev.requester, ev.executor, ev.pending_owner) or me in ev.candidates:
            return True
        with self._lock:
            return ev.task_id in self._requests or ev.task_id in self._jobs or ev.task_id in self._promised

    def _on_event(self, ev: TaskEvent) -> None:
        me = self.msp_id
        with self._lock:
            req = self._requests.get(ev.task_id)
            job = self._jobs.get(ev.task_id)
        if req is not None and not req.closed and ev.requester == me:
            self._as_requester(req, ev)
        if ev.name == "TaskShortlisted" and me in ev.candidates and ev.requester != me:
            self._offer(ev)
        elif ev.name == "TaskAwarded":
            with self._lock:
                self._promised.pop(ev.task_id, None)
            if ev.executor == me and job is None:
                job = self._new_job(ev.task_id, ev.requester, ev.cycles, ev.input_bytes, None, ev=ev)
                if ev.payload_delivered:
                    self._fetch(job)
        elif ev.name == "PayloadSent" and job is not None and ev.executor == me and job.state == "waiting_payload":
            self._fetch(job)
        elif ev.name == "TaskExpired" and job is not None:
            job.cancel.set()
            with self._lock:
                self._jobs.pop(ev.task_id, None)
            self.book.mark(ev.task_id, "failed", detail=f"expired while {job.state}")
        elif ev.name == "TaskSettled" and ev.executor == me:
            with self._lock:
                self.counters["earned"] += ev.price
        elif ev.name == "OwnershipProposed" and ev.pending_owner == me:
            self._accept(ev)
        elif ev.name == "OwnershipTransferred" and req is not None and ev.requester != me:
            req.closed = True
            log.info("task %s now belongs to %s", ev.task_id, ev.requester)

    # ---- candidate and executor ------------------------------------------------------------
    def _offer(self, ev: TaskEvent) -> None:
        terms = decide_offer(
            self.load(),
            cycles=ev.cycles,
            deadline_unix=ev.deadline,
            max_price=ev.max_price,
            price_per_gigacycle=self.settings.price_per_gigacycle,
            now=time.time(),
            max_queue=self.settings.max_queue,
        )
        if terms.willing:
            with self._lock:
                self._promised[ev.task_id] = (time.time() + 3 * self.settings.offer_timeout_s, ev.cycles)
        try:
            submit(
                self.book,
                ev.task_id,
                "Offer",
                lambda: self.ledger.offer(
                    ev.task_id, willing=terms.willing, price=terms.price, estimated_seconds=terms.estimated_seconds
                ),
            )
        except LedgerError as exc:
            with self._lock:
                self._promised.pop(ev.task_id, None)
            log.info("offer on %s not taken: %s", ev.task_id, exc)
            return
        with self._lock:
            self.counters["offers" if terms.willing else "declines"] += 1
        stage = "offered" if terms.willing else "declined"
        self.book.mark(ev.task_id, stage, detail=f"round {ev.round}: {terms.price} credits, {terms.reason}")

    def _new_job(
        self,
        task_id: str,
        requester: str,
        cycles: int,
        input_bytes: int,
        task: dict[str, Any] | None,
        *,
        ev: TaskEvent | None = None,
    ) -> _Job:
        payload_hash = ev.payload_hash if ev is not None else str((task or {}).get("payloadHash", ""))
        deadline = float(ev.deadline if ev is not None else (task or {}).get("deadline", 0))
        job = _Job(task_id, requester, cycles, input_bytes, payload_hash, deadline, awarded_seen=time.time())
        with self._lock:
            self._jobs[task_id] = job
        return job

    def _fetch(self, job: _Job) -> None:
        """Read the payload from this org's private collection and queue the job."""
        for attempt in range(5):
            try:
                payload = self.ledger.read_payload(job.task_id)
                break
            except GatewayError as exc:
                if attempt == 4:
                    log.warning("cannot read the payload of %s: %s", job.task_id, exc)
                    self.book.mark(job.task_id, "failed", detail=f"payload unreadable: {exc}")
                    return
                time.sleep(0.2 * (attempt + 1))
        if hashlib.sha256(payload).hexdigest() != job.payload_hash:
            self.book.mark(job.task_id, "failed", detail="payload does not match its public hash")
            log.warning("payload of %s does not match its hash; not executing", job.task_id)
            return
        try:
            job.payload = unseal(payload)  # the hash covers the salt: what executes is the content
        except LedgerError as exc:
            self.book.mark(job.task_id, "failed", detail=str(exc))
            log.warning("payload of %s is not sealed; not executing: %s", job.task_id, exc)
            return
        job.fetched_at = self.book.mark(job.task_id, "payload_fetched", detail=f"{len(payload)} bytes")
        job.state = "queued"
        self._run_queue.put(job)

    def _worker(self) -> None:
        while not self._stop.is_set():
            job = self._run_queue.get()
            if job is None:
                return
            if job.cancel.is_set() or job.payload is None:
                continue
            job.state = "running"
            rounds = work_rounds(job.cycles, len(job.payload))
            started = self.book.mark(job.task_id, "exec_started", detail=f"{rounds} rounds")

            def progress(i: int, job: _Job = job, rounds: int = rounds) -> None:
                job.progress = i / rounds

            try:
                digest = run_chain(job.payload, rounds, cancel=job.cancel, progress=progress)
            except Cancelled:
                job.state = "cancelled"
                continue
            finished = self.book.mark(job.task_id, "exec_finished")
            job.progress, job.state = 1.0, "submitting"
            with self._lock:
                self.effective_hz = 0.7 * self.effective_hz + 0.3 * job.cycles / max(finished - started, 1e-3)
            result = seal(  # a fresh salt: a third party that guesses the document cannot confirm it
                result_document(
                    task_id=job.task_id,
                    payload_hash=job.payload_hash,
                    cycles=job.cycles,
                    rounds=rounds,
                    digest=digest,
                    executor=self.msp_id,
                )
            )
            self._tasks.submit(job.task_id, lambda job=job, result=result, f=finished: self._deliver(job, result, f))  # type: ignore[misc]

    def _deliver(self, job: _Job, result: bytes, finished: float) -> None:
        if job.cancel.is_set():
            return
        try:
            submit(self.book, job.task_id, "SubmitResult", lambda: self.ledger.submit_result(job.task_id, result))
        except LedgerError as exc:
            log.warning("result of %s not accepted: %s", job.task_id, exc)
            self.book.mark(job.task_id, "failed", detail=f"result refused: {exc}")
            with self._lock:
                self.counters["failed"] += 1
                self._jobs.pop(job.task_id, None)
            job.state = "done"
            return
        committed = self.book.mark(job.task_id, "result_committed")
        sample = (committed - finished) + max(0.0, job.fetched_at - job.awarded_seen)
        with self._lock:
            self.overhead_s = 0.8 * self.overhead_s + 0.2 * sample
            self.counters["executed"] += 1
            self._jobs.pop(job.task_id, None)
        job.state = "done"

    # ---- requester -------------------------------------------------------------------------
    def _originate(self, req: _Request, order: TaskOrder) -> None:
        payload = seal(make_payload(order.task_id, order.input_bytes, seed=order.seed))
        req.payload, req.payload_hash = payload, hashlib.sha256(payload).hexdigest()
        self.book.mark(req.task_id, "submitted")
        deadline = int(time.time()) + order.deadline_s
        try:
            submit(
                self.book,
                req.task_id,
                "RequestTask",
                lambda: self.ledger.request_task(
                    req.task_id,
                    cpu_cycles=order.cycles,
                    input_bytes=order.input_bytes,
                    deadline_unix=deadline,
                    max_price=order.max_price,
                    payload_hash=req.payload_hash,
                    payload=payload,
                    delegate_award=order.delegate,
                ),
            )
        except LedgerError as exc:
            req.closed = True
            self.book.mark(req.task_id, "failed", detail=f"request refused: {exc}")
            log.warning("request of %s failed: %s", req.task_id, exc)
            return
        req.deadline = deadline
        self.book.mark(req.task_id, "requested", detail="delegated" if order.delegate else order.award_rule)
        with self._lock:
            self.counters["requested"] += 1

    def _as_requester(self, req: _Request, ev: TaskEvent) -> None:
        req.deadline = float(ev.deadline) or req.deadline
        if ev.name == "TaskShortlisted":
            req.status, req.round, req.candidates = "SHORTLISTED", ev.round, ev.candidates
            req.bids, req.round_started, req.awarding = {}, time.time(), False
        elif ev.name == "TaskOffered" and ev.offer is not None and ev.offer.round == req.round:
            o = ev.offer
            req.bids[o.msp_id] = Bid(o.msp_id, o.willing, o.price, o.estimated_seconds)
            self._try_award(req, window_closed=False)
        elif ev.name == "TaskAwarded":
            req.status, req.executor = "AWARDED", ev.executor
            if not ev.payload_delivered:  # the Cloud awarded on our behalf: the payload follows
                self._send_payload(req)
        elif ev.name == "TaskCompleted":
            req.status, req.completed = "COMPLETED", ev
            self._settle(req, ev)
        elif ev.name == "TaskExpired":
            self._reopen(req)
        elif ev.name in ("TaskSettled", "TaskDisputed"):
            req.status, req.closed = ev.status, True

    def _try_award(self, req: _Request, *, window_closed: bool) -> None:
        if req.delegate or req.awarding or req.status != "SHORTLISTED" or req.payload is None:
            return
        if time.time() < req.next_award_try:
            return
        decision = pick_winner(
            req.award_rule,
            candidates=req.candidates,
            bids=req.bids,
            max_price=req.max_price,
            time_left_s=req.deadline - time.time(),
            window_closed=window_closed,
        )
        if not decision.final or decision.winner is None:
            return
        winner, payload = decision.winner, req.payload
        req.awarding = True
        willing = sum(1 for b in req.bids.values() if b.willing)
        self.book.mark(req.task_id, "offers_in", detail=f"round {req.round}: {willing}/{len(req.candidates)} willing")
        try:
            price = req.bids[winner].price
            submit(
                self.book,
                req.task_id,
                "Award",
                lambda: self.ledger.award(req.task_id, winner, price, payload=payload),
            )
        except LedgerError as exc:
            req.awarding = False
            req.next_award_try = time.time() + 1.0
            log.info("award of %s to %s failed: %s", req.task_id, winner, exc)
            return
        t = self.book.mark(req.task_id, "awarded", detail=winner)
        self.book.mark(req.task_id, "payload_delivered", t=t, detail="with the award")
        req.status, req.executor = "AWARDED", winner

    def _send_payload(self, req: _Request) -> None:
        payload = req.payload
        if payload is None:
            log.warning("task %s was awarded for us but we hold no payload to send", req.task_id)
            return
        try:
            submit(self.book, req.task_id, "SendPayload", lambda: self.ledger.send_payload(req.task_id, payload))
        except LedgerError as exc:
            log.warning("sending the payload of %s failed: %s", req.task_id, exc)
            return
        self.book.mark(req.task_id, "payload_delivered", detail="SendPayload")

    def _settle(self, req: _Request, ev: TaskEvent) -> None:
        try:
            result = self.ledger.read_result(ev.task_id)
        except GatewayError as exc:
            req.next_settle_try = time.time() + 3.0
            log.warning("cannot read the result of %s: %s", ev.task_id, exc)
            return
        reason = check_result(
            result,
            task_id=ev.task_id,
            payload_hash=ev.payload_hash,
            cycles=ev.cycles,
            input_bytes=ev.input_bytes,
            executor=ev.executor,
            result_hash=ev.result_hash,
            payload=unseal(req.payload) if self.settings.verify_results and req.payload else None,
        )
        try:
            if reason is None:
                submit(self.book, ev.task_id, "Settle", lambda: self.ledger.settle(ev.task_id))
                self.book.mark(ev.task_id, "settled", detail=f"{ev.price} credits to {ev.executor}")
                req.status = "SETTLED"
                with self._lock:
                    self.counters["settled"] += 1
            else:
                self.book.mark(ev.task_id, "result_rejected", detail=reason)
                submit(self.book, ev.task_id, "Dispute", lambda: self.ledger.dispute(ev.task_id, reason[:256]))
                self.book.mark(ev.task_id, "disputed", detail=reason)
                req.status = "DISPUTED"
            req.closed = True
        except LedgerError as exc:
            req.next_settle_try = time.time() + 3.0  # the ticker tries again
            log.warning("closing %s failed: %s", ev.task_id, exc)

    def _reopen(self, req: _Request) -> None:
        self.book.mark(req.task_id, "expired", detail=f"executor {req.executor or '-'}")
        if req.reassigns >= req.max_reassign:
            req.status, req.closed = "EXPIRED", True
            return
        deadline = int(time.time()) + req.deadline_s
        try:
            submit(
                self.book, req.task_id, "Reassign", lambda: self.ledger.reassign(req.task_id, deadline_unix=deadline)
            )
        except LedgerError as exc:
            log.warning("reassigning %s failed: %s", req.task_id, exc)
            req.status, req.closed = "EXPIRED", True
            return
        req.reassigns += 1
        req.status, req.deadline, req.round, req.candidates, req.bids = "REQUESTED", deadline, 0, (), {}
        req.awarding, req.executor = False, ""
        self.book.mark(req.task_id, "reassigned", detail=f"attempt {req.reassigns + 1}")

    def _expire(self, req: _Request) -> None:
        if req.closed or req.status not in OPEN_STATUSES or time.time() < req.next_expire_try:
            return
        req.expire_tries += 1
        req.next_expire_try = time.time() + 3.0 * req.expire_tries  # the Cloud expires it too
        try:
            # first with the executor's peer; after a failure with the Cloud's instead (the executor's
            # org may be revoked or removed, or its peer down)
            without = req.expire_tries > 1
            submit(
                self.book,
                req.task_id,
                "Expire",
                lambda: self.ledger.expire(req.task_id, without_executor=without),
            )
        except LedgerError as exc:
            log.info("expiring %s: %s", req.task_id, exc)

    def _transfer(self, req: _Request, new_owner: str) -> None:
        payload = req.payload
        try:
            submit(
                self.book,
                req.task_id,
                "TransferOwnership",
                lambda: self.ledger.transfer_ownership(req.task_id, new_owner, payload=payload),
            )
        except LedgerError as exc:
            log.warning("transfer of %s to %s failed: %s", req.task_id, new_owner, exc)
            self.book.mark(req.task_id, "failed", detail=f"transfer refused: {exc}")
            return
        self.book.mark(req.task_id, "transfer_proposed", detail=new_owner)

    def _accept(self, ev: TaskEvent) -> None:
        with self._lock:
            expected = self._expected.get(ev.task_id)
        if expected is None or expected[0] != ev.requester:
            log.warning("ignoring an unexpected transfer of task %s from %s", ev.task_id, ev.requester)
            return
        if ev.escrow > expected[1]:
            log.warning(
                "refusing task %s from %s: escrow %d is more than the %d agreed",
                ev.task_id,
                ev.requester,
                ev.escrow,
                expected[1],
            )
            return
        with self._lock:
            self._expected.pop(ev.task_id, None)
        most = expected[1]
        try:
            submit(
                self.book,
                ev.task_id,
                "AcceptOwnership",
                lambda: self.ledger.accept_ownership(ev.task_id, max_escrow=most),
            )
        except LedgerError as exc:
            log.warning("accepting task %s failed: %s", ev.task_id, exc)
            return
        self.book.mark(ev.task_id, "ownership_accepted", detail=f"from {ev.requester}")
        self._adopt(self.ledger.read_task(ev.task_id))

    def _adopt(self, task: dict[str, Any]) -> None:
        """Take charge of a task of ours this agent did not originate (handed over, or before a restart)."""
        task_id = str(task["taskId"])
        try:
            payload: bytes | None = self.ledger.read_payload(task_id)
        except GatewayError:
            payload = None
        deadline_s = max(1, int(task.get("deadline", 0)) - int(task.get("requestedAt", 0)))
        req = _Request(
            task_id=task_id,
            payload=payload,
            payload_hash=str(task.get("payloadHash", "")),
            cycles=int(task.get("cpuCycles", 0)),
            input_bytes=int(task.get("inputBytes", 0)),
            max_price=int(task.get("maxPrice", 0)),
            deadline_s=deadline_s,
            delegate=bool(task.get("delegateAward")),
            deadline=float(task.get("deadline", 0)),
            status=str(task.get("status")),
            round=int(task.get("round", 0)),
            candidates=tuple(task.get("candidates") or ()),
            round_started=time.time(),
            executor=str(task.get("executor", "")),
        )
        with self._lock:
            self._requests[task_id] = req
        if req.status == "COMPLETED":
            self._settle(req, _event_from_task(task))

    # ---- periodic --------------------------------------------------------------------------
    def _ticker(self) -> None:
        last_cpu = 0.0
        while not self._stop.wait(0.25):
            now = time.time()
            if now - last_cpu >= 1.0:
                self.cpu_share, last_cpu = self._cpu.share(), now
            with self._lock:
                self._promised = {k: v for k, v in self._promised.items() if v[0] > now}
                requests = [r for r in self._requests.values() if not r.closed]
            for req in requests:
                if not req.tick_pending and self._tick_due(req, now):
                    req.tick_pending = True
                    self._tasks.submit(req.task_id, lambda r=req: self._tick(r))  # type: ignore[misc]

    def _tick_due(self, req: _Request, now: float) -> bool:
        if (
            req.status == "SHORTLISTED"
            and not req.delegate
            and not req.awarding
            and now - req.round_started > self.settings.offer_timeout_s
            and now >= req.next_award_try
        ):
            return True
        if req.status == "COMPLETED":
            return req.completed is not None and now >= req.next_settle_try > 0
        return bool(
            req.status in OPEN_STATUSES
            and req.deadline
            and now > req.deadline + self.settings.expire_grace_s
            and now >= req.next_expire_try
        )

    def _tick(self, req: _Request) -> None:
        """Time-driven steps of a request (one queued at a time): award when the offer window closes,
        settle again after a failure, expire after the deadline."""
        req.tick_pending = False
        if req.closed:
            return
        now = time.time()
        if req.status == "COMPLETED" and req.completed is not None and now >= req.next_settle_try > 0:
            req.next_settle_try = now + 3.0
            self._settle(req, req.completed)
        elif req.deadline and now > req.deadline + self.settings.expire_grace_s:
            self._expire(req)
        elif req.status == "SHORTLISTED" and now - req.round_started > self.settings.offer_timeout_s:
            self._try_award(req, window_closed=True)


def _event_from_task(task: dict[str, Any]) -> TaskEvent:
    """A task record read from the ledger, shaped as the event that would have carried it."""
    return TaskEvent(
        name="TaskCompleted",
        block=0,
        tx_id=str(task.get("lastTxId", "")),
        task_id=str(task["taskId"]),
        status=str(task.get("status", "")),
        requester=str(task.get("requester", "")),
        executor=str(task.get("executor", "")),
        actor="",
        candidates=tuple(task.get("candidates") or ()),
        round=int(task.get("round", 0)),
        cycles=int(task.get("cpuCycles", 0)),
        input_bytes=int(task.get("inputBytes", 0)),
        deadline=int(task.get("deadline", 0)),
        max_price=int(task.get("maxPrice", 0)),
        payload_hash=str(task.get("payloadHash", "")),
        delegate_award=bool(task.get("delegateAward")),
        payload_delivered=bool(task.get("payloadDelivered")),
        pending_owner=str(task.get("pendingOwner", "")),
        price=int(task.get("price", 0)),
        result_hash=str(task.get("resultHash", "")),
    )
