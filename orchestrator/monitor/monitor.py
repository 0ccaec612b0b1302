"""The cloud monitor (first paper, Fig. 2, steps 2-3): as the Cloud org, it follows the contract's
events, keeps a live view of the edges, and for every new task posts a shortlist of the best ``k``
candidates chosen by a selection policy.

* A task requested (or put up again after expiry) is shortlisted among the edges other than its
  requester whose agent answers, ranked by the policy (:func:`orchestrator.monitor.view.rank`).
  Edges that declined the task before are tried last.
* When every candidate declined, or no award came within the offer window (plus a grace period
  for the requester), it posts a new round.
* For a task whose requester delegated the award, it awards itself, with the same rules an edge
  uses (``auction`` for the auction policy, ``rank`` otherwise).
* A task past its deadline (plus a grace period for its requester) is expired, endorsed by its
  requester's peer and the Cloud's (never the executor's), so its escrow goes back even when its
  requester's agent is gone or its executor's org was revoked or removed.

It records its stages in a :class:`~orchestrator.agent.trace.TraceBook` and keeps counts and recent
latencies for the live view.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from types import TracebackType

from orchestrator.agent.agent import KeyedExecutor
from orchestrator.agent.connection import chain_height
from orchestrator.agent.decide import AwardRule, Bid, pick_winner
from orchestrator.agent.events import OPEN_STATUSES, EventParseError, TaskEvent, parse_event
from orchestrator.agent.trace import TraceBook
from orchestrator.agent.txn import submit
from orchestrator.errors import ConfigError, LedgerError
from orchestrator.gateway import ChaincodeEvent, ChaincodeEventsError, ChaincodeEventStream, GatewayError
from orchestrator.ledger import Ledger
from orchestrator.monitor.sampler import EdgeSample, EdgeSampler
from orchestrator.monitor.view import cluster_view, rank, task_spec
from orchestrator.policy import SelectionPolicy
from orchestrator.topology import Topology

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorSettings:
    policy: str = "auction"
    k: int = 2  # candidates per shortlist
    offer_timeout_s: float = 4.0  # offer window of a round (the edges use the same)
    stall_s: float = 3.0  # extra time a requester gets to award before a new round
    round_backoff_s: float = 1.0  # pause before a new round when everyone declined
    expire_grace_s: float = 10.0  # after a deadline, before the Cloud expires the task itself
    agent_stale_s: float = 3.0  # an agent silent this long is not shortlisted

    def __post_init__(self) -> None:
        if not 1 <= self.k <= 16:
            raise ConfigError(f"invalid shortlist size {self.k}: must be 1 to 16 (the contract's limit)")
        if self.offer_timeout_s <= 0:
            raise ConfigError(f"invalid offer timeout {self.offer_timeout_s} s: must be positive")

    @property
    def award_rule(self) -> AwardRule:
        return "auction" if self.policy == "auction" else "rank"


@dataclass
class TaskState:
    """What the Cloud knows about one task (all public)."""

    task_id: str
    requester: str
    status: str
    cycles: int
    input_bytes: int
    deadline: float
    max_price: int
    delegate: bool
    first_seen: float
    round: int = 0
    candidates: tuple[str, ...] = ()
    bids: dict[str, Bid] = field(default_factory=dict)
    round_started: float = 0.0
    declined: set[str] = field(default_factory=set)
    executor: str = ""
    price: int = 0
    reassigns: int = 0
    pending_owner: str = ""
    next_round_at: float = 0.0
    next_expire_try: float = 0.0
    awarding: bool = False
    next_award_try: float = 0.0
    shortlists: int = 0  # rounds posted for the current attempt (reset when the task is put up again)
    tick_pending: bool = False
    closed_at: float = 0.0

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES or self.status == "COMPLETED"


@dataclass(frozen=True)
class MonitorSnapshot:
    """For the live view."""

    t: float
    policy: str
    edges: dict[str, EdgeSample]
    backlog_cycles: dict[str, float]
    counts: dict[str, int]
    recent_latencies_s: tuple[float, ...]  # request to settlement, newest last
    shortlists: int
    awards: int
    expiries: int
    parse_errors: int


class CloudMonitor:
    """See the module doc. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(
        self,
        ledger: Ledger,
        topology: Topology,
        policy: SelectionPolicy,
        settings: MonitorSettings,
        *,
        sampler: EdgeSampler | None = None,
    ) -> None:
        self.ledger = ledger
        self.topology = topology
        self.policy = policy
        self.settings = settings
        self.sampler = sampler
        self.msp_id = ledger.msp_id
        self.edges = tuple(o.msp_id for o in topology.edge_orgs)
        self.book = TraceBook(self.msp_id)
        self._tasks = KeyedExecutor(16, "monitor")
        self._lock = threading.RLock()
        self._states: dict[str, TaskState] = {}
        self._backlog: dict[str, dict[str, int]] = {m: {} for m in self.edges}
        self._registered_hz: dict[str, float] = {}
        self._recent: deque[float] = deque(maxlen=200)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._stream: ChaincodeEventStream | None = None
        self._threads: list[threading.Thread] = []
        self.counters = {"shortlists": 0, "awards": 0, "expiries": 0, "parse_errors": 0}

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self.policy.reset()
        try:
            for edge in self.ledger.list_edges():
                self._registered_hz[str(edge.get("mspId"))] = float(edge.get("cpuCyclesPerSec") or 1e9)
        except GatewayError as exc:
            raise LedgerError(f"the monitor cannot read the edges: {exc}") from exc
        start_block = chain_height(self.ledger)
        for name, target in (("events", lambda: self._event_loop(start_block)), ("ticker", self._ticker)):
            thread = threading.Thread(target=target, name=f"monitor-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._ready.wait(timeout=10)

    def stop(self) -> None:
        self._stop.set()
        if self._stream is not None:
            self._stream.close()
        self._tasks.shutdown()
        for thread in self._threads:
            thread.join(timeout=3)

    def __enter__(self) -> CloudMonitor:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ---- what others read ------------------------------------------------------------------
    def states(self) -> dict[str, TaskState]:
        with self._lock:
            return dict(self._states)

    def snapshot(self) -> MonitorSnapshot:
        with self._lock:
            counts: dict[str, int] = {}
            for state in self._states.values():
                counts[state.status] = counts.get(state.status, 0) + 1
            backlog = {m: float(sum(tasks.values())) for m, tasks in self._backlog.items()}
            recent = tuple(self._recent)
            counters = dict(self.counters)
        return MonitorSnapshot(
            t=time.time(),
            policy=self.settings.policy,
            edges=self.sampler.latest() if self.sampler else {},
            backlog_cycles=backlog,
            counts=counts,
            recent_latencies_s=recent,
            shortlists=counters["shortlists"],
            awards=counters["awards"],
            expiries=counters["expiries"],
            parse_errors=counters["parse_errors"],
        )

    # ---- events ----------------------------------------------------------------------------
    def _event_loop(self, start_block: int) -> None:
        after_tx: str | None = None
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
                log.warning("the monitor's event stream broke (%s); reconnecting from block %d", exc, start_block)
            self._stop.wait(1.0)

    def handle_event(self, event: ChaincodeEvent) -> None:
        try:
            ev = parse_event(event)
        except EventParseError as exc:
            with self._lock:
                self.counters["parse_errors"] += 1
            log.warning("the monitor ignores an event it cannot parse: %s", exc)
            return
        if ev is None:
            if event.event_name == "EdgeRegistered":
                self._tasks.submit("edges", self._refresh_edges)
            return
        self._tasks.submit(ev.task_id, lambda: self._on_event(ev))

    def _refresh_edges(self) -> None:
        try:
            edges = self.ledger.list_edges()
        except GatewayError as exc:
            log.debug("refreshing the edges failed: %s", exc)
            return
        with self._lock:
            for edge in edges:
                self._registered_hz[str(edge.get("mspId"))] = float(edge.get("cpuCyclesPerSec") or 1e9)

    def _state_for(self, ev: TaskEvent) -> TaskState:
        with self._lock:
            state = self._states.get(ev.task_id)
            if state is None:
                state = TaskState(
                    task_id=ev.task_id,
                    requester=ev.requester,
                    status=ev.status,
                    cycles=ev.cycles,
                    input_bytes=ev.input_bytes,
                    deadline=float(ev.deadline),
                    max_price=ev.max_price,
                    delegate=ev.delegate_award,
                    first_seen=time.time(),
                )
                self._states[ev.task_id] = state
            return state

    def _on_event(self, ev: TaskEvent) -> None:
        state = self._state_for(ev)
        now = time.time()
        previous = state.status
        state.status, state.deadline, state.requester = ev.status, float(ev.deadline), ev.requester
        state.pending_owner = ev.pending_owner
        if ev.status != previous:
            self.book.mark(ev.task_id, f"seen_{ev.status.lower()}", t=now, detail=ev.actor)
        if ev.name in ("TaskRequested", "TaskReassigned"):
            if ev.name == "TaskReassigned":
                state.reassigns += 1
                state.shortlists = 0
            state.round, state.candidates, state.bids, state.executor, state.awarding = ev.round, (), {}, "", False
            self._shortlist(state)
        elif ev.name == "TaskShortlisted":
            state.round, state.candidates, state.bids = ev.round, ev.candidates, {}
            state.round_started, state.next_round_at, state.awarding = now, 0.0, False
        elif ev.name == "TaskOffered" and ev.offer is not None and ev.offer.round == state.round:
            o = ev.offer
            state.bids[o.msp_id] = Bid(o.msp_id, o.willing, o.price, o.estimated_seconds)
            if not o.willing:
                state.declined.add(o.msp_id)
            if state.delegate:
                self._award(state, window_closed=False)
            if all(c in state.bids and not state.bids[c].willing for c in state.candidates):
                state.next_round_at = now + self._backoff(state)
        elif ev.name == "TaskAwarded":
            state.executor, state.price = ev.executor, ev.price
            with self._lock:
                self._backlog.setdefault(ev.executor, {})[ev.task_id] = ev.cycles
        elif ev.name in ("TaskCompleted", "TaskExpired"):
            with self._lock:
                for tasks in self._backlog.values():
                    tasks.pop(ev.task_id, None)
            if ev.name == "TaskExpired":
                state.closed_at = now
        elif ev.name in ("TaskSettled", "TaskDisputed"):
            state.closed_at = now
            with self._lock:
                self._recent.append(now - state.first_seen)

    # ---- decisions -------------------------------------------------------------------------
    def _online(self, msp_id: str, samples: dict[str, EdgeSample]) -> bool:
        if self.sampler is None:
            return True
        sample = samples.get(msp_id)
        return sample is not None and time.time() - sample.agent_seen <= self.settings.agent_stale_s

    def _shortlist(self, state: TaskState) -> None:
        now = time.time()
        samples = self.sampler.latest() if self.sampler else {}
        excluded = {state.requester, state.pending_owner}
        eligible = [m for m in self.edges if m not in excluded and self._online(m, samples)]
        if not eligible:
            state.next_round_at = now + 2.0
            log.info("no edge available for %s; trying again", state.task_id)
            return
        fresh = [m for m in eligible if m not in state.declined] or eligible
        capacity, backlog = {}, {}
        with self._lock:
            ledger_backlog = {m: float(sum(t.values())) for m, t in self._backlog.items()}
        for m in fresh:
            report = samples[m].agent if m in samples else {}
            capacity[m] = float(report.get("effective_hz") or self._registered_hz.get(m, 1e9))
            backlog[m] = max(ledger_backlog.get(m, 0.0), float(report.get("backlog_cycles") or 0.0))
        view = cluster_view(fresh, capacity_hz=capacity, backlog_cycles=backlog)
        spec = task_spec(
            state.task_id, cycles=state.cycles, input_bytes=state.input_bytes, deadline=state.deadline, now=now
        )
        candidates = rank(self.policy, view, spec, min(self.settings.k, len(fresh)))
        state.next_round_at = 0.0
        try:
            submit(self.book, state.task_id, "Shortlist", lambda: self.ledger.shortlist(state.task_id, candidates))
        except LedgerError as exc:
            log.info("shortlisting %s failed: %s", state.task_id, exc)
            if state.status in ("REQUESTED", "SHORTLISTED"):
                state.next_round_at = now + self._backoff(state)
            return
        state.round_started = time.time()
        state.shortlists += 1
        self.book.mark(state.task_id, "shortlisted", detail=f"{self.policy.name}: {','.join(candidates)}")
        with self._lock:
            self.counters["shortlists"] += 1

    def _award(self, state: TaskState, *, window_closed: bool) -> None:
        if state.awarding or state.status != "SHORTLISTED" or time.time() < state.next_award_try:
            return
        decision = pick_winner(
            self.settings.award_rule,
            candidates=state.candidates,
            bids=state.bids,
            max_price=state.max_price,
            time_left_s=state.deadline - time.time(),
            window_closed=window_closed,
        )
        if not decision.final:
            return
        if decision.winner is None:
            state.next_round_at = time.time() + self._backoff(state)
            return
        winner = decision.winner
        state.awarding = True
        willing = sum(1 for b in state.bids.values() if b.willing)
        self.book.mark(
            state.task_id, "offers_in", detail=f"round {state.round}: {willing}/{len(state.candidates)} willing"
        )
        try:
            price = state.bids[winner].price
            submit(self.book, state.task_id, "Award", lambda: self.ledger.award(state.task_id, winner, price))
        except LedgerError as exc:
            state.awarding = False
            state.next_award_try = time.time() + 1.0
            log.info("delegated award of %s failed: %s", state.task_id, exc)
            return
        self.book.mark(state.task_id, "awarded", detail=winner)
        with self._lock:
            self.counters["awards"] += 1

    def _expire(self, state: TaskState) -> None:
        if state.status not in OPEN_STATUSES or time.time() < state.next_expire_try:
            return
        state.next_expire_try = time.time() + 3.0
        try:
            # endorsed by the requester and the Cloud itself: works whether or not the executor's org
            # can still endorse (revoked, removed, its peer down)
            submit(
                self.book,
                state.task_id,
                "Expire",
                lambda: self.ledger.expire(state.task_id, without_executor=True),
            )
        except LedgerError as exc:
            log.info("expiring %s: %s", state.task_id, exc)
            return
        self.book.mark(state.task_id, "expired", detail="by the cloud")
        with self._lock:
            self.counters["expiries"] += 1

    def _ticker(self) -> None:
        while not self._stop.wait(0.25):
            now = time.time()
            with self._lock:
                states = [st for st in self._states.values() if st.status in OPEN_STATUSES and not st.tick_pending]
            for st in states:
                if self._tick_due(st, now):
                    st.tick_pending = True
                    self._tasks.submit(st.task_id, lambda st=st: self._tick(st))  # type: ignore[misc]

    def _tick_due(self, st: TaskState, now: float) -> bool:
        s = self.settings
        if now > st.deadline + s.expire_grace_s:
            return now >= st.next_expire_try
        if st.status in ("REQUESTED", "SHORTLISTED") and st.next_round_at and now >= st.next_round_at:
            return True
        if st.status != "SHORTLISTED" or now - st.round_started <= s.offer_timeout_s:
            return False
        if st.delegate:
            return not st.awarding and now >= st.next_award_try
        # the requester awards; a new round only when nobody was willing and the requester is done waiting
        return not any(b.willing for b in st.bids.values()) and now - st.round_started > s.offer_timeout_s + s.stall_s

    def _tick(self, st: TaskState) -> None:
        """Time-driven steps of a task (one queued at a time): expire, a new round, a delegated award."""
        st.tick_pending = False
        s, now = self.settings, time.time()
        if st.status not in OPEN_STATUSES:
            return
        if now > st.deadline + s.expire_grace_s:
            self._expire(st)
        elif st.status in ("REQUESTED", "SHORTLISTED") and st.next_round_at and now >= st.next_round_at:
            self._shortlist(st)
        elif st.status == "SHORTLISTED" and st.delegate:
            self._award(st, window_closed=True)
        elif st.status == "SHORTLISTED":
            self._shortlist(st)

    def _backoff(self, st: TaskState) -> float:
        """Pause before another round: doubles with every round of this attempt, at most 8 s."""
        return float(min(8.0, self.settings.round_backoff_s * 2 ** max(0, st.shortlists - 1)))
