"""Decisions an edge makes from its own state: whether to offer, at what price; and whom to award.

Pure functions of plain numbers, so that the rules are tested without a network.

* Willingness (first paper, step 3: "willing to execute the task based on their local situation"):
  an edge offers when its queue has room and it expects to finish before the deadline, with a
  safety margin: queued work and the task at its measured rate, plus the ledger time it has seen
  a task need around the execution (fetch the payload, commit the result).
* Price: the edge's price per gigacycle times the task's gigacycles, marked up by how busy it is;
  never above the task's ``maxPrice`` (then it declines).
* Award (second paper, the auction among the shortlisted): ``auction`` waits for every candidate
  (or the offer window) and takes the lowest score ``price/maxPrice + estimatedSeconds/timeLeft``;
  ``rank`` follows the shortlist order the Cloud's policy chose and takes the first willing
  candidate, as soon as every candidate ranked above it has declined.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

AwardRule = Literal["rank", "auction"]
AWARD_RULES: tuple[AwardRule, ...] = ("rank", "auction")


@dataclass(frozen=True, slots=True)
class AgentLoad:
    """An edge's own view of itself when it is asked."""

    queue_len: int  # tasks waiting or running
    backlog_cycles: float  # work left in them, including tasks it offered on and may win
    effective_hz: float  # cycles per second it has measured lately
    cpu_share: float  # CPU use of its container over the last second, 0..1 of its limit
    overhead_s: float  # ledger time around an execution (payload fetch, result commit) it has seen


@dataclass(frozen=True, slots=True)
class OfferTerms:
    willing: bool
    price: int
    estimated_seconds: int
    reason: str  # why (for logs and records)


def quote_price(*, cycles: int, price_per_gigacycle: int, queue_len: int, cpu_share: float) -> int:
    """The asking price: base price marked up 10 % per queued task and by CPU use above 50 %."""
    markup = 1.0 + 0.1 * queue_len + max(0.0, cpu_share - 0.5)
    return max(1, math.ceil(round(price_per_gigacycle * cycles / 1e9 * markup, 6)))


def decide_offer(
    load: AgentLoad,
    *,
    cycles: int,
    deadline_unix: float,
    max_price: int,
    price_per_gigacycle: int,
    now: float,
    max_queue: int = 8,
    safety: float = 1.25,
) -> OfferTerms:
    """Offer or decline a task, from the edge's own state."""
    if load.queue_len >= max_queue:
        return OfferTerms(False, 0, 0, f"queue full ({load.queue_len} tasks)")
    hz = max(load.effective_hz, 1.0)
    finish_s = load.backlog_cycles / hz + cycles / hz + load.overhead_s
    left_s = deadline_unix - now
    if finish_s * safety >= left_s:
        return OfferTerms(False, 0, 0, f"would finish in {finish_s:.1f} s, {left_s:.1f} s left")
    price = quote_price(
        cycles=cycles, price_per_gigacycle=price_per_gigacycle, queue_len=load.queue_len, cpu_share=load.cpu_share
    )
    if price > max_price:
        return OfferTerms(False, 0, 0, f"price {price} above max {max_price}")
    return OfferTerms(True, price, max(1, math.ceil(finish_s)), f"finish in {finish_s:.1f} s")


@dataclass(frozen=True, slots=True)
class Bid:
    msp_id: str
    willing: bool
    price: int
    estimated_seconds: int


@dataclass(frozen=True, slots=True)
class AwardDecision:
    """``final`` False: wait for more offers. Final with ``winner`` None: nobody is willing."""

    final: bool
    winner: str | None = None
    score: float = 0.0


def auction_score(bid: Bid, *, max_price: int, time_left_s: float) -> float:
    return bid.price / max(max_price, 1) + bid.estimated_seconds / max(time_left_s, 1.0)


def pick_winner(
    rule: AwardRule,
    *,
    candidates: Sequence[str],
    bids: Mapping[str, Bid],
    max_price: int,
    time_left_s: float,
    window_closed: bool,
) -> AwardDecision:
    """Whom to award, from the offers of the current round; see the module doc for the rules."""
    if rule == "rank":
        for msp in candidates:
            bid = bids.get(msp)
            if bid is None:
                if not window_closed:
                    return AwardDecision(final=False)
                continue
            if bid.willing:
                return AwardDecision(final=True, winner=msp)
        return AwardDecision(final=True)
    if rule != "auction":
        raise ValueError(f"unknown award rule {rule!r}; known: {', '.join(AWARD_RULES)}")
    if not window_closed and any(c not in bids for c in candidates):
        return AwardDecision(final=False)
    scored = [
        (auction_score(bids[c], max_price=max_price, time_left_s=time_left_s), i, c)
        for i, c in enumerate(candidates)
        if c in bids and bids[c].willing
    ]
    if not scored:
        return AwardDecision(final=True)
    score, _, winner = min(scored)
    return AwardDecision(final=True, winner=winner, score=score)
