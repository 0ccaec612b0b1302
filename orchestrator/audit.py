"""``mecfab audit``: check the ledger's invariants from the blocks and the contract's state.

- the hash chain: every block's previous hash is the header hash of the block before it, and its
  data hash is the SHA-256 of its transactions; numbers run from 0 without gaps;
- no transaction ID is committed VALID twice;
- every task's history follows the state machine (an independent copy of the chaincode's);
- credits are conserved: balances + escrow == grants (AuditCredits, cross-checked from the edges
  and tasks);
- every peer has the same block hash at the same height.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.gateway.deliver import BlockRecord, blocks
from orchestrator.ledger import Ledger
from orchestrator.network import NetworkSpec

log = logging.getLogger(__name__)

VALID = 0
TRANSITIONS: dict[str, frozenset[str]] = {
    "REQUESTED": frozenset({"SHORTLISTED", "EXPIRED"}),
    "SHORTLISTED": frozenset({"SHORTLISTED", "AWARDED", "EXPIRED"}),
    "AWARDED": frozenset({"COMPLETED", "EXPIRED"}),
    "COMPLETED": frozenset({"SETTLED", "DISPUTED"}),
    "EXPIRED": frozenset({"REQUESTED"}),
    "SETTLED": frozenset(),
    "DISPUTED": frozenset(),
}


@dataclass(frozen=True)
class Violation:
    check: str
    detail: str


@dataclass(frozen=True)
class AuditReport:
    peer: str
    height: int
    transactions: int
    valid: int
    tasks: int
    credits: dict[str, Any]
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def check_chain(chain: Sequence[BlockRecord]) -> list[Violation]:
    """Hash links, data hashes, contiguous numbers and unique VALID transaction IDs."""
    problems: list[Violation] = []
    seen: dict[str, int] = {}
    for i, block in enumerate(chain):
        if block.number != i:
            problems.append(Violation("chain", f"block at position {i} has number {block.number}"))
        if block.data_hash != block.computed_data_hash:
            problems.append(Violation("data-hash", f"block {block.number}: data hash does not match its data"))
        if i and block.previous_hash != chain[i - 1].header_hash:
            problems.append(Violation("chain", f"block {block.number}: previous hash is not block {i - 1}'s hash"))
        for tx in block.transactions:
            if tx.validation_code != VALID:
                continue
            if tx.tx_id in seen:
                problems.append(
                    Violation(
                        "duplicate-tx", f"transaction {tx.tx_id} valid in blocks {seen[tx.tx_id]} and {block.number}"
                    )
                )
            seen[tx.tx_id] = block.number
    return problems


def check_history(task_id: str, statuses: Sequence[str]) -> list[Violation]:
    """Each change of status in a task's history must be a transition the contract allows."""
    problems = []
    if statuses and statuses[0] != "REQUESTED":
        problems.append(Violation("state-machine", f"task {task_id} starts in {statuses[0]}, not REQUESTED"))
    for before, after in itertools.pairwise(statuses):
        if before != after and after not in TRANSITIONS.get(before, frozenset()):
            problems.append(Violation("state-machine", f"task {task_id} moved {before} -> {after}"))
    return problems


def check_credits(
    audit: dict[str, Any], edges: Sequence[dict[str, Any]], tasks: Sequence[dict[str, Any]]
) -> list[Violation]:
    problems = []
    if not audit.get("balanced", False):
        problems.append(Violation("credits", f"AuditCredits reports an imbalance: {audit}"))
    grants = sum(int(e.get("grant", 0)) for e in edges)
    held = sum(int(e.get("balance", 0)) for e in edges) + sum(int(t.get("escrow", 0)) for t in tasks)
    if grants != held:
        problems.append(Violation("credits", f"balances + escrow = {held}, grants = {grants}"))
    return problems


def audit(spec: NetworkSpec, *, org: str = "Cloud") -> AuditReport:
    """Walk every block from ``org``'s peer and check every invariant above."""
    with Ledger.connect(spec, org) as ledger:
        chain = list(blocks(ledger._gateway, spec.topology.channel))
        violations = check_chain(chain)
        tasks: dict[str, dict[str, Any]] = {}
        for status in TRANSITIONS:
            for task in ledger.tasks_by_status(status):
                tasks[task["taskId"]] = task
        for task_id in sorted(tasks):
            history = ledger.task_history(task_id)
            statuses = [h["value"]["status"] for h in history if h.get("value")]
            violations += check_history(task_id, statuses)
        credits = ledger.audit_credits()
        violations += check_credits(credits, ledger.list_edges(), list(tasks.values()))
    violations += compare_peers(spec)
    txs = [tx for b in chain for tx in b.transactions]
    return AuditReport(
        peer=spec.topology.peer_of(spec.topology.org(org)).host,
        height=len(chain),
        transactions=len(txs),
        valid=sum(tx.validation_code == VALID for tx in txs),
        tasks=len(tasks),
        credits=credits,
        violations=violations,
    )


def compare_peers(spec: NetworkSpec) -> list[Violation]:
    """Every peer's newest block must match the others' block of the same number."""
    heads: dict[str, dict[int, bytes]] = {}
    for peer_org in spec.topology.peer_orgs:
        with Ledger.connect(spec, peer_org.name) as ledger:
            heads[peer_org.name] = {b.number: b.header_hash for b in blocks(ledger._gateway, spec.topology.channel)}
    common = min(max(h) for h in heads.values())
    reference = next(iter(heads.values()))
    return [
        Violation("fork", f"{name} has a different block {n} than {next(iter(heads))}")
        for name, h in heads.items()
        for n in range(common + 1)
        if h.get(n) != reference.get(n)
    ]
