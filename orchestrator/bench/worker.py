"""A load-generator worker: one process, one asyncio loop, one ``grpc.aio`` connection per client org.

The parent (``orchestrator.bench.runner``) starts ``workers`` of these with the *spawn* start method
and talks to each over two queues. Per round: ``("round", index, spec)`` → the worker builds the
workload and prepares it → ``("prepared", …)`` → ``("go", start_at)`` with a monotonic start time
shared by every worker → it sends on the schedule, reporting ``("progress", …)`` twice a second →
``("done", …)`` with every record and its own CPU time. ``("stop",)`` ends the process. Identities
and connections are made once and reused by every round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import multiprocessing.queues
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.bench.config import RoundSpec
from orchestrator.bench.rates import ClosedController, OpenController, make_controller
from orchestrator.bench.records import NAN, TxRecord, TxStatus
from orchestrator.bench.workloads import Call, Workload, make_workload
from orchestrator.gateway.aio import AsyncContract, AsyncGateway, now
from orchestrator.gateway.client import Timeouts
from orchestrator.gateway.errors import CommitStatusError, EndorseError, EvaluateError, GatewayError, SubmitError
from orchestrator.gateway.identity import Identity

__all__ = ["ClientTarget", "RoundStats", "WorkerSetup", "worker_main"]

log = logging.getLogger(__name__)

Queue = multiprocessing.queues.Queue
ERROR_CHARS = 300


@dataclass(frozen=True)
class ClientTarget:
    """How a worker reaches one org's peer, and as whom (picklable: paths and bytes only)."""

    org: str
    msp_id: str
    endpoint: str
    server_name: str
    tls_ca: bytes
    msp_dir: Path


@dataclass(frozen=True)
class WorkerSetup:
    worker: int
    workers: int
    run_id: str
    channel: str
    chaincode: str
    clients: tuple[ClientTarget, ...]
    max_in_flight: int
    commit_timeout_s: float
    progress_interval_s: float = 0.5


@dataclass(frozen=True)
class RoundStats:
    """What a worker measured about itself in one round."""

    worker: int
    start_at: float
    sending_done: float  # when its last transaction was sent
    finished: float  # when its last transaction finished
    cpu_s: float  # its process CPU time (user + system, every thread) over the round
    sent: int
    max_in_flight_seen: int
    in_flight_waits: int  # sends that had to wait for the max_in_flight cap
    rates: tuple[float, ...] = ()  # maximum-rate: the target after each adjustment

    @property
    def wall_s(self) -> float:
        return self.finished - self.start_at

    @property
    def cpu_utilization(self) -> float:
        """CPU seconds per wall second (1.0 = one core fully busy)."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else math.nan


def worker_main(setup: WorkerSetup, commands: Queue[Any], results: Queue[Any]) -> None:
    """Process entry point: serve rounds until told to stop; a crash is reported, not raised."""
    try:
        asyncio.run(_Worker(setup, commands, results).serve())
    except BaseException:
        results.put(("failed", setup.worker, traceback.format_exc()))


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 3] + "..."


class _Worker:
    def __init__(self, setup: WorkerSetup, commands: Queue[Any], results: Queue[Any]) -> None:
        self.setup = setup
        self.commands = commands
        self.results = results
        self.gateways: list[AsyncGateway] = []
        self.contracts: list[AsyncContract] = []
        self.seq = 0
        # per-round state
        self.records: list[TxRecord] = []
        self.label = ""
        self.sent = 0
        self.in_flight = 0
        self.max_in_flight_seen = 0
        self.in_flight_waits = 0

    async def _command(self) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self.commands.get)

    async def serve(self) -> None:
        s = self.setup
        timeouts = Timeouts(commit_status=s.commit_timeout_s)
        try:
            for target in s.clients:
                gw = AsyncGateway(
                    endpoint=target.endpoint,
                    tls_root_cert=target.tls_ca,
                    identity=Identity.from_msp_dir(target.msp_id, target.msp_dir),
                    server_name_override=target.server_name,
                    timeouts=timeouts,
                )
                self.gateways.append(gw)
                await gw.wait_ready()
                self.contracts.append(gw.contract(s.channel, s.chaincode))
            self.results.put(("ready", s.worker, None))
            while True:
                message = await self._command()
                if message[0] == "stop":
                    return
                if message[0] == "round":
                    await self._round(message[1], message[2])
        finally:
            for gw in self.gateways:
                with contextlib.suppress(Exception):
                    await gw.close()

    # ---- one round ---------------------------------------------------------------------------
    async def _round(self, index: int, spec: RoundSpec) -> None:
        s = self.setup
        workload = make_workload(spec.workload, worker=s.worker, run_id=s.run_id, clients=[c.msp_id for c in s.clients])
        controller = make_controller(
            spec.rate, worker=s.worker, workers=s.workers, tx_count=spec.tx_count, duration_s=spec.duration_s
        )
        await workload.prepare(self._setup_submit)
        self.results.put(("prepared", s.worker, spec.label))
        message = await self._command()
        if message[0] != "go":
            raise RuntimeError(f"worker {s.worker}: expected 'go', got {message[0]!r}")
        start_at: float = message[1]
        self.records, self.label = [], spec.label
        self.sent = self.in_flight = self.max_in_flight_seen = self.in_flight_waits = 0
        reporter = asyncio.create_task(self._report_progress())
        delay = start_at - now()
        if delay > 0:
            await asyncio.sleep(delay)
        cpu0 = time.process_time()
        try:
            if isinstance(controller, OpenController):
                sending_done = await self._run_open(controller, workload, start_at)
            elif isinstance(controller, ClosedController):
                sending_done = await self._run_closed(controller, workload, start_at, spec.duration_s)
            else:  # pragma: no cover - the registry only holds the two kinds
                raise TypeError(f"rate controller {type(controller).__name__} is neither open nor closed")
        finally:
            reporter.cancel()
        finished = now()
        stats = RoundStats(
            worker=s.worker,
            start_at=start_at,
            sending_done=sending_done,
            finished=finished,
            cpu_s=time.process_time() - cpu0,
            sent=self.sent,
            max_in_flight_seen=self.max_in_flight_seen,
            in_flight_waits=self.in_flight_waits,
            rates=tuple(getattr(controller, "rates", ())),
        )
        rows = [r.as_row() for r in self.records]
        self.results.put(("done", s.worker, spec.label, rows, stats))

    async def _report_progress(self) -> None:
        while True:
            self.results.put(("progress", self.setup.worker, self.label, self.sent, len(self.records)))
            await asyncio.sleep(self.setup.progress_interval_s)

    async def _run_open(self, controller: OpenController, workload: Workload, start_at: float) -> float:
        slots = asyncio.Semaphore(self.setup.max_in_flight)
        pending: set[asyncio.Task[None]] = set()
        last_send = start_at
        while (offset := controller.next_offset()) is not None:
            due = start_at + offset
            delay = due - now()
            if delay > 0:
                await asyncio.sleep(delay)
            if slots.locked():
                self.in_flight_waits += 1
            await slots.acquire()
            task = asyncio.create_task(self._send(workload, scheduled=due, controller=controller, start_at=start_at))
            pending.add(task)
            task.add_done_callback(pending.discard)
            task.add_done_callback(lambda _t: slots.release())
            last_send = now()
        if pending:
            await asyncio.gather(*pending)
        return last_send

    async def _run_closed(
        self, controller: ClosedController, workload: Workload, start_at: float, duration_s: float | None
    ) -> float:
        budget = controller.my_tx_count
        end_at = start_at + duration_s if duration_s is not None else math.inf
        last_send = start_at

        async def user() -> None:
            nonlocal budget, last_send
            while now() < end_at:
                if budget is not None:
                    if budget <= 0:
                        return
                    budget -= 1
                last_send = now()
                await self._send(workload, scheduled=NAN, controller=None, start_at=start_at)

        await asyncio.gather(*(user() for _ in range(controller.concurrency())))
        return last_send

    # ---- one transaction ---------------------------------------------------------------------
    async def _send(
        self, workload: Workload, *, scheduled: float, controller: OpenController | None, start_at: float
    ) -> None:
        seq = self.seq
        self.seq += 1
        self.sent += 1
        self.in_flight += 1
        self.max_in_flight_seen = max(self.max_in_flight_seen, self.in_flight)
        try:
            call = workload.call(seq)
            if workload.kind == "submit":
                record = await self._submit(call, seq=seq, scheduled=scheduled)
            else:
                record = await self._evaluate(call, seq=seq, scheduled=scheduled)
        except Exception as exc:  # a bug in a workload must not stop the run
            t = now()
            record = self._record(
                Call(0, "?", ()),
                seq=seq,
                kind=workload.kind,
                scheduled=scheduled,
                start=t,
                end=t,
                status=TxStatus.ERROR,
                error=f"{type(exc).__name__}: {exc}",
            )
        finally:
            self.in_flight -= 1
        self.records.append(record)
        if controller is not None:
            controller.observe(record.end - start_at, ok=TxStatus(record.status).succeeded)

    def _record(
        self,
        call: Call,
        *,
        seq: int,
        kind: str,
        scheduled: float,
        start: float,
        end: float,
        status: TxStatus,
        tx_id: str = "",
        endorsed: float = NAN,
        submitted: float = NAN,
        code: int = -1,
        code_name: str = "",
        block: int = -1,
        error: str = "",
    ) -> TxRecord:
        org = self.setup.clients[call.client].msp_id if call.client < len(self.setup.clients) else ""
        return TxRecord(
            round=self.label,
            worker=self.setup.worker,
            seq=seq,
            org=org,
            kind=kind,
            function=call.function,
            tx_id=tx_id,
            scheduled=scheduled,
            start=start,
            endorsed=endorsed,
            submitted=submitted,
            end=end,
            status=status.value,
            validation_code=code,
            validation=code_name,
            block=block,
            error=_one_line(error),
        )

    async def _submit(self, call: Call, *, seq: int, scheduled: float) -> TxRecord:
        contract = self.contracts[call.client]
        start = now()
        tx_id = ""
        endorsed = submitted = NAN
        try:
            proposal = contract.new_proposal(call.function, *call.args)
            tx_id = proposal.tx_id
            transaction = await proposal.endorse()
            endorsed = now()
            commit = await transaction.submit()
            submitted = now()
            status = await commit.status()
        except GatewayError as exc:
            phase = {
                EndorseError: TxStatus.ENDORSE_FAILED,
                SubmitError: TxStatus.SUBMIT_FAILED,
                CommitStatusError: TxStatus.COMMIT_STATUS_FAILED,
            }.get(type(exc), TxStatus.ERROR)
            if isinstance(exc, SubmitError) and exc.outcome_unknown:
                phase = TxStatus.SUBMIT_UNKNOWN
            return self._record(
                call,
                seq=seq,
                kind="submit",
                scheduled=scheduled,
                start=start,
                end=now(),
                status=phase,
                tx_id=tx_id,
                endorsed=endorsed,
                submitted=submitted,
                error=str(exc),
            )
        end = now()
        return self._record(
            call,
            seq=seq,
            kind="submit",
            scheduled=scheduled,
            start=start,
            end=end,
            status=TxStatus.VALID if status.valid else TxStatus.INVALID,
            tx_id=tx_id,
            endorsed=endorsed,
            submitted=submitted,
            code=status.code,
            code_name=status.code_name,
            block=status.block_number,
            error="" if status.valid else f"committed as {status.code_name}",
        )

    async def _evaluate(self, call: Call, *, seq: int, scheduled: float) -> TxRecord:
        contract = self.contracts[call.client]
        start = now()
        tx_id = ""
        try:
            proposal = contract.new_proposal(call.function, *call.args)
            tx_id = proposal.tx_id
            await proposal.evaluate()
        except EvaluateError as exc:
            return self._record(
                call,
                seq=seq,
                kind="evaluate",
                scheduled=scheduled,
                start=start,
                end=now(),
                status=TxStatus.EVALUATE_FAILED,
                tx_id=tx_id,
                error=str(exc),
            )
        return self._record(
            call,
            seq=seq,
            kind="evaluate",
            scheduled=scheduled,
            start=start,
            end=now(),
            status=TxStatus.OK,
            tx_id=tx_id,
        )

    async def _setup_submit(self, client: int, function: str, args: Sequence[str]) -> bool:
        """Submit a set-up transaction (not recorded); True when it committed VALID."""
        try:
            status, _ = await self.contracts[client].submit(function, *args)
        except GatewayError as exc:
            log.debug("set-up %s failed: %s", function, exc)
            return False
        return status.valid
