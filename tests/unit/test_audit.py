"""The audit's checks on synthetic chains and histories (the live audit runs in integration)."""

from __future__ import annotations

import dataclasses
import hashlib

from orchestrator.audit import check_chain, check_credits, check_history
from orchestrator.gateway.deliver import BlockRecord, TxRecord, block_header_hash


def _chain(n: int) -> list[BlockRecord]:
    chain: list[BlockRecord] = []
    previous = b""
    for number in range(n):
        data_hash = hashlib.sha256(f"data {number}".encode()).digest()
        tx = TxRecord(tx_id=f"tx{number}", header_type=3, validation_code=0)
        block = BlockRecord(
            number, previous, data_hash, block_header_hash(number, previous, data_hash), data_hash, (tx,)
        )
        chain.append(block)
        previous = block.header_hash
    return chain


def test_header_hash_is_sha256_of_the_der_sequence() -> None:
    # SEQUENCE { INTEGER 128 (02 02 00 80), OCTET STRING 'a', OCTET STRING '' }
    der = bytes.fromhex("30 09 02 02 00 80 04 01 61 04 00".replace(" ", ""))
    assert block_header_hash(128, b"a", b"") == hashlib.sha256(der).digest()
    assert block_header_hash(0, b"", b"") == hashlib.sha256(bytes.fromhex("300702010004000400")).digest()


def test_an_intact_chain_passes_and_every_kind_of_tampering_is_named() -> None:
    chain = _chain(5)
    assert check_chain(chain) == []
    broken_link = [*chain[:3], dataclasses.replace(chain[3], previous_hash=b"x" * 32), chain[4]]
    assert [v.check for v in check_chain(broken_link)] == ["chain"]
    bad_data = [*chain[:2], dataclasses.replace(chain[2], computed_data_hash=b"y" * 32), *chain[3:]]
    assert [v.check for v in check_chain(bad_data)] == ["data-hash"]
    replay = dataclasses.replace(chain[4], transactions=(chain[1].transactions[0],))
    assert [v.check for v in check_chain([*chain[:4], replay])] == ["duplicate-tx"]
    invalid_replay = dataclasses.replace(
        chain[4], transactions=(dataclasses.replace(chain[1].transactions[0], validation_code=2),)
    )
    assert check_chain([*chain[:4], invalid_replay]) == [], "an invalidated duplicate is Fabric doing its job"
    assert [v.check for v in check_chain([chain[0], chain[2]])] == ["chain", "chain"]


def test_task_histories_must_follow_the_state_machine() -> None:
    ok = [
        "REQUESTED",
        "SHORTLISTED",
        "SHORTLISTED",
        "AWARDED",
        "EXPIRED",
        "REQUESTED",
        "SHORTLISTED",
        "AWARDED",
        "COMPLETED",
        "SETTLED",
    ]
    assert check_history("t", ok) == []
    assert [v.detail for v in check_history("t", ["REQUESTED", "AWARDED"])] == ["task t moved REQUESTED -> AWARDED"]
    assert check_history("t", ["SETTLED"])[0].detail == "task t starts in SETTLED, not REQUESTED"
    assert check_history("t", ["REQUESTED", "SHORTLISTED", "AWARDED", "COMPLETED", "SETTLED", "DISPUTED"])


def test_credits_must_balance_both_by_the_contract_and_by_our_own_sum() -> None:
    edges = [{"grant": 100, "balance": 70}, {"grant": 100, "balance": 100}]
    assert check_credits({"balanced": True}, edges, [{"escrow": 30}]) == []
    assert [v.check for v in check_credits({"balanced": True}, edges, [])] == ["credits"]
    assert len(check_credits({"balanced": False}, edges, [])) == 2
