"""The real work: rounds proportional to cycles, a result the requester can check, background load."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.agent.work import (
    CYCLES_PER_BYTE,
    BackgroundLoad,
    Cancelled,
    check_result,
    make_payload,
    result_document,
    run_chain,
    work_rounds,
)
from orchestrator.errors import LedgerError
from orchestrator.sealing import SALT_BYTES, seal, unseal


def test_rounds_grow_with_cycles_and_cover_the_bytes_asked() -> None:
    assert work_rounds(1, 1000) == 1
    small, large = work_rounds(10**8, 64 * 1024), work_rounds(10**9, 64 * 1024)
    assert large >= 9 * small
    assert large * (64 * 1024 + 32) * CYCLES_PER_BYTE >= 10**9
    with pytest.raises(ValueError):
        work_rounds(0, 10)


def test_payloads_are_reproducible_from_a_seed_and_random_without() -> None:
    assert make_payload("t1", 100, seed=7) == make_payload("t2", 100, seed=7)  # the seed decides
    assert make_payload("t1", 100) != make_payload("t1", 100)  # no seed: nothing to guess from the ID
    assert len(make_payload("t1", 12345)) == 12345


def test_a_sealed_value_opens_to_its_content_and_hides_it_behind_a_fresh_salt() -> None:
    content = b"known to everyone"
    first, second = seal(content), seal(content)
    assert unseal(first) == unseal(second) == content
    assert len(first) == len(content) + SALT_BYTES and first != second
    assert hashlib.sha256(first).digest() != hashlib.sha256(content).digest()
    with pytest.raises(LedgerError, match="at least 32 bytes of salt"):
        unseal(b"short")
    with pytest.raises(ValueError, match="a salt is 32 bytes"):
        seal(content, salt=b"x")


def test_chain_is_sha256_iterated_over_the_payload() -> None:
    payload = b"abc" * 100
    digest = hashlib.sha256(payload).digest()
    for _ in range(3):
        digest = hashlib.sha256(digest + payload).digest()
    assert run_chain(payload, 3) == digest.hex()


def test_chain_stops_when_cancelled() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        run_chain(b"x" * 1024, 10_000, cancel=cancel)


def _result(payload: bytes, cycles: int, **changes: object) -> tuple[bytes, dict[str, object]]:
    rounds = work_rounds(cycles, len(payload))
    doc = json.loads(
        result_document(
            task_id="t-1",
            payload_hash=hashlib.sha256(payload).hexdigest(),
            cycles=cycles,
            rounds=rounds,
            digest=run_chain(payload, rounds),
            executor="Edge2MSP",
        )
    )
    doc.update(changes)
    data = seal(json.dumps(doc).encode(), salt=bytes(SALT_BYTES))
    task = {
        "task_id": "t-1",
        "payload_hash": hashlib.sha256(payload).hexdigest(),
        "cycles": cycles,
        "input_bytes": len(payload),
        "executor": "Edge2MSP",
        "result_hash": hashlib.sha256(data).hexdigest(),
    }
    return data, task


def test_a_correct_result_passes_and_a_recomputed_one_too() -> None:
    payload = make_payload("t-1", 4096, seed=3)
    data, task = _result(payload, 10**6)
    assert check_result(data, **task) is None  # type: ignore[arg-type]
    assert check_result(data, **task, payload=payload) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"rounds": 1}, "result field rounds"),
        ({"taskId": "t-2"}, "result field taskId"),
        ({"executor": "Edge3MSP"}, "result field executor"),
        ({"digest": "zz"}, "digest is not 64 hex"),
        ({"digest": "0" * 64}, "digest is wrong"),
    ],
)
def test_a_wrong_result_is_named(change: dict[str, object], reason: str) -> None:
    payload = make_payload("t-1", 4096, seed=3)
    data, task = _result(payload, 10**6, **change)
    assert reason in (check_result(data, **task, payload=payload) or "")  # type: ignore[arg-type]


def test_a_result_not_matching_its_public_hash_is_refused() -> None:
    data, task = _result(b"p" * 100, 1000)
    task["result_hash"] = "0" * 64
    assert check_result(data, **task) == "result does not match its public hash"  # type: ignore[arg-type]


def test_background_load_follows_its_square_wave() -> None:
    load = BackgroundLoad(share=0.4, cpus=1.0, period_s=10)
    t0 = load._epoch
    assert load.active_share(t0 + 1) == 0.4 and load.active_share(t0 + 6) == 0.0
    assert BackgroundLoad(share=0.0, cpus=1.0).active_share() == 0.0


def test_background_load_really_uses_cpu() -> None:
    load = BackgroundLoad(share=0.5, cpus=1.0)
    start_cpu, start = time.thread_time(), time.process_time()
    load.start()
    try:  # poll instead of a fixed sleep: an overloaded host only slows this down, it does not fail it
        deadline = time.monotonic() + 20
        while time.process_time() - start < 0.1 + (time.thread_time() - start_cpu) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        load.stop()
    assert time.process_time() - start >= 0.1 + (time.thread_time() - start_cpu)


def test_a_result_without_a_salt_is_refused() -> None:
    _, task = _result(b"p" * 100, 1000)
    short = b"{}"
    task["result_hash"] = hashlib.sha256(short).hexdigest()
    assert check_result(short, **task) == "result is not sealed with a salt"  # type: ignore[arg-type]


@given(st.binary(max_size=4096), st.binary(min_size=SALT_BYTES, max_size=SALT_BYTES))
def test_sealing_round_trips_any_content_and_hashes_the_salt_with_it(content: bytes, salt: bytes) -> None:
    sealed = seal(content, salt=salt)
    assert sealed[:SALT_BYTES] == salt and unseal(sealed) == content
    assert hashlib.sha256(sealed).digest() == hashlib.sha256(salt + content).digest()
