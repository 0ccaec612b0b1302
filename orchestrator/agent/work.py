"""The real work an edge server does for a task, and what it sends back.

A task asks for ``cycles`` CPU cycles on ``input_bytes`` of data. The executor hashes its payload in
a SHA-256 chain, ``h(i+1) = SHA-256(h(i) || payload)``, for as many rounds as make
``cycles / CYCLES_PER_BYTE`` bytes: real CPU work, proportional to the cycles asked, over data of
the requested size, whose outcome nobody can guess without doing it. ``CYCLES_PER_BYTE`` is the
testbed's unit convention (SHA-256 with the x86 SHA extensions costs about two cycles a byte), so
how long a task really takes depends on the machine, the container's CPU limit and its background
load, and each agent measures its own rate.

The result is a small JSON document naming the task, its payload hash, the rounds and the final
digest. The requester checks it (:func:`check_result`) before it settles.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.sealing import SALT_BYTES, unseal

log = logging.getLogger(__name__)

CYCLES_PER_BYTE = 2.0
NOMINAL_CORE_HZ = 3.0e9  # what a full core is declared as on the ledger (RegisterEdge); runs measure
DIGEST_BYTES = 32


def work_rounds(cycles: int, payload_bytes: int) -> int:
    """Chain rounds that make ``cycles`` of work over a payload of ``payload_bytes``."""
    if cycles < 1 or payload_bytes < 1:
        raise ValueError(f"cycles and payload size must be positive, got {cycles} and {payload_bytes}")
    return max(1, math.ceil(cycles / CYCLES_PER_BYTE / (payload_bytes + DIGEST_BYTES)))


def make_payload(task_id: str, size: int, *, seed: int = 0) -> bytes:
    """The input data of a task: ``size`` bytes from the operating system's random source, or, with a
    ``seed``, pseudo-random bytes from it (a workload replayed from the same seed sends the same
    bytes). Either way the ledger sees them sealed with a random salt (``orchestrator.sealing``)."""
    if not seed:
        return secrets.token_bytes(size)
    return random.Random(f"seed/{seed}").randbytes(size)


class Cancelled(Exception):
    """The task was withdrawn (expired) while it ran."""


def run_chain(
    payload: bytes,
    rounds: int,
    *,
    cancel: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Do the work: the hex digest after ``rounds`` chained SHA-256 rounds over ``payload``."""
    digest = hashlib.sha256(payload).digest()
    step = max(1, rounds // 50)
    for i in range(rounds):
        h = hashlib.sha256(digest)
        h.update(payload)  # hashlib releases the GIL here: other threads of the agent keep running
        digest = h.digest()
        if i % step == 0:
            if cancel is not None and cancel.is_set():
                raise Cancelled
            if progress is not None:
                progress(i)
    return digest.hex()


def result_document(*, task_id: str, payload_hash: str, cycles: int, rounds: int, digest: str, executor: str) -> bytes:
    """The result bytes the executor submits (hash public, content private to the two parties)."""
    doc = {
        "taskId": task_id,
        "payloadHash": payload_hash,
        "cycles": cycles,
        "rounds": rounds,
        "digest": digest,
        "executor": executor,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def check_result(
    result: bytes,
    *,
    task_id: str,
    payload_hash: str,
    cycles: int,
    input_bytes: int,
    executor: str,
    result_hash: str,
    payload: bytes | None = None,
) -> str | None:
    """Why ``result`` is not a valid answer to the task, or ``None`` when it is.

    ``result`` is the sealed bytes read from the ledger (``orchestrator.sealing``). Always checked: they
    match the public result hash, and the document inside names this task, its payload, the executor
    and the right number of rounds. With ``payload`` (the content, unsealed) the chain is recomputed
    (as much work again as the task; the workflow does it only on request).
    """
    if hashlib.sha256(result).hexdigest() != result_hash:
        return "result does not match its public hash"
    if len(result) < SALT_BYTES:
        return "result is not sealed with a salt"
    try:
        doc = json.loads(unseal(result))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "result is not JSON"
    if not isinstance(doc, dict):
        return "result is not a JSON object"
    rounds = work_rounds(cycles, input_bytes)
    expected: dict[str, object] = {
        "taskId": task_id,
        "payloadHash": payload_hash,
        "cycles": cycles,
        "rounds": rounds,
        "executor": executor,
    }
    for key, value in expected.items():
        if doc.get(key) != value:
            return f"result field {key} is {doc.get(key)!r}, expected {value!r}"
    digest = doc.get("digest")
    if not (
        isinstance(digest, str) and len(digest) == 2 * DIGEST_BYTES and all(c in "0123456789abcdef" for c in digest)
    ):
        return "result digest is not 64 hex characters"
    if payload is not None and run_chain(payload, rounds) != digest:
        return "result digest is wrong"
    return None


def measure_hz(seconds: float = 0.25) -> float:
    """Cycles per second this process achieves now, in the unit of ``CYCLES_PER_BYTE``."""
    block = os.urandom(64 * 1024)
    digest = b""
    done = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        h = hashlib.sha256(digest)
        h.update(block)
        digest = h.digest()
        done += len(block)
    return done * CYCLES_PER_BYTE / max(elapsed, 1e-9)


class BackgroundLoad:
    """A job that keeps ``share`` of the container's ``cpus`` busy (hashing), in 100 ms slices.

    With ``period_s`` > 0 it runs in the first half of each period and idles in the second, so the
    edge's spare capacity changes over time.
    """

    SLICE_S = 0.1

    def __init__(self, *, share: float, cpus: float, period_s: float = 0.0) -> None:
        self.share = share
        self.cpus = cpus
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="background-load", daemon=True)
        self._epoch = time.monotonic()

    def active_share(self, now: float | None = None) -> float:
        """The share of the CPU the job takes at ``now`` (monotonic)."""
        if self.share <= 0:
            return 0.0
        if self.period_s <= 0:
            return self.share
        phase = ((time.monotonic() if now is None else now) - self._epoch) % self.period_s
        return self.share if phase < self.period_s / 2 else 0.0

    def start(self) -> None:
        if self.share > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        block = os.urandom(64 * 1024)
        while not self._stop.is_set():
            busy = self.active_share() * min(self.cpus, 1.0) * self.SLICE_S
            start = time.perf_counter()
            while time.perf_counter() - start < busy:
                hashlib.sha256(block).digest()
            self._stop.wait(max(0.0, self.SLICE_S - (time.perf_counter() - start)))


class CpuMeter:
    """CPU use of this container (cgroup v1 or v2) or, outside a container, of this process,
    as a share of ``cpus`` cores since the previous call."""

    def __init__(self, cpus: float, *, root: Path = Path("/sys/fs/cgroup")) -> None:
        self.cpus = cpus
        self._read = self._reader(root)
        self._last = (time.monotonic(), self._read())

    @staticmethod
    def _reader(root: Path) -> Callable[[], float]:
        in_container = Path("/.dockerenv").exists()
        v2 = root / "cpu.stat"
        v1 = [root / "cpuacct" / "cpuacct.usage", root / "cpu,cpuacct" / "cpuacct.usage"]
        if in_container and v2.is_file():

            def read_v2() -> float:
                for line in v2.read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "usage_usec":
                        return int(value) / 1e6
                return 0.0

            return read_v2
        for path in v1:
            if in_container and path.is_file():
                return lambda p=path: int(p.read_text()) / 1e9  # type: ignore[misc]
        return time.process_time

    def share(self) -> float:
        now, used = time.monotonic(), self._read()
        then, before = self._last
        self._last = (now, used)
        if now - then <= 0:
            return 0.0
        return max(0.0, (used - before) / (now - then) / self.cpus)
