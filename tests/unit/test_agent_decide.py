"""An edge's own decisions: whether it offers, at what price, and whom a requester awards."""

from __future__ import annotations

import pytest

from orchestrator.agent.decide import AgentLoad, Bid, auction_score, decide_offer, pick_winner, quote_price

IDLE = AgentLoad(queue_len=0, backlog_cycles=0.0, effective_hz=2e9, cpu_share=0.1, overhead_s=1.0)


def test_an_idle_edge_offers_its_base_price_and_honest_estimate() -> None:
    terms = decide_offer(IDLE, cycles=2_000_000_000, deadline_unix=130, max_price=500, price_per_gigacycle=30, now=100)
    assert terms.willing
    assert terms.price == 60  # 30 per gigacycle x 2 gigacycles, no markup
    assert terms.estimated_seconds == 2  # 1 s of work + 1 s of ledger overhead


def test_an_edge_declines_what_it_cannot_finish_before_the_deadline() -> None:
    busy = AgentLoad(queue_len=3, backlog_cycles=50e9, effective_hz=2e9, cpu_share=0.9, overhead_s=1.0)
    terms = decide_offer(busy, cycles=2_000_000_000, deadline_unix=130, max_price=500, price_per_gigacycle=30, now=100)
    assert not terms.willing and terms.price == 0 and terms.estimated_seconds == 0
    assert "would finish in 27.0 s, 30.0 s left" in terms.reason  # 27 x 1.25 safety > 30


def test_an_edge_declines_with_a_full_queue_or_above_the_max_price() -> None:
    full = AgentLoad(queue_len=8, backlog_cycles=0.0, effective_hz=2e9, cpu_share=0.0, overhead_s=0.0)
    assert (
        "queue full"
        in decide_offer(full, cycles=1, deadline_unix=1000, max_price=10, price_per_gigacycle=1, now=0).reason
    )
    pricey = decide_offer(IDLE, cycles=2_000_000_000, deadline_unix=1000, max_price=59, price_per_gigacycle=30, now=0)
    assert not pricey.willing and "price 60 above max 59" in pricey.reason


def test_price_marks_up_with_queue_and_cpu_use() -> None:
    base = quote_price(cycles=1_000_000_000, price_per_gigacycle=100, queue_len=0, cpu_share=0.0)
    busy = quote_price(cycles=1_000_000_000, price_per_gigacycle=100, queue_len=3, cpu_share=0.9)
    assert (base, busy) == (100, 170)  # 1 + 0.3 + 0.4
    assert quote_price(cycles=1, price_per_gigacycle=1, queue_len=0, cpu_share=0) == 1  # never free


def _bids(*items: tuple[str, bool, int, int]) -> dict[str, Bid]:
    return {m: Bid(m, w, p, s) for m, w, p, s in items}


def test_rank_rule_takes_the_first_willing_candidate_in_policy_order() -> None:
    order = ["E3", "E2", "E4"]
    wait = pick_winner(
        "rank", candidates=order, bids=_bids(("E2", True, 5, 1)), max_price=9, time_left_s=30, window_closed=False
    )
    assert not wait.final  # E3, ranked first, has not answered yet
    declined_first = _bids(("E3", False, 0, 0), ("E2", True, 50, 9))
    decision = pick_winner(
        "rank", candidates=order, bids=declined_first, max_price=90, time_left_s=30, window_closed=False
    )
    assert decision.final and decision.winner == "E2"
    silent = pick_winner(
        "rank", candidates=order, bids=_bids(("E4", True, 1, 1)), max_price=9, time_left_s=30, window_closed=True
    )
    assert silent.winner == "E4"  # the window closed: the silent ones are skipped


def test_auction_waits_for_every_candidate_then_takes_the_best_score() -> None:
    order = ["E2", "E3"]
    partial = _bids(("E2", True, 10, 5))
    assert not pick_winner(
        "auction", candidates=order, bids=partial, max_price=100, time_left_s=50, window_closed=False
    ).final
    full = _bids(("E2", True, 10, 20), ("E3", True, 40, 2))
    decision = pick_winner("auction", candidates=order, bids=full, max_price=100, time_left_s=50, window_closed=False)
    # E2: 0.1 + 0.4 = 0.5; E3: 0.4 + 0.04 = 0.44
    assert decision.winner == "E3"
    assert decision.score == pytest.approx(auction_score(full["E3"], max_price=100, time_left_s=50))


def test_nobody_willing_is_a_final_decision_without_winner() -> None:
    bids = _bids(("E2", False, 0, 0), ("E3", False, 0, 0))
    for rule in ("rank", "auction"):
        decision = pick_winner(
            rule,
            candidates=["E2", "E3"],
            bids=bids,
            max_price=9,
            time_left_s=9,  # type: ignore[arg-type]
            window_closed=False,
        )
        assert decision.final and decision.winner is None
    with pytest.raises(ValueError, match="unknown award rule"):
        pick_winner("lottery", candidates=["E2"], bids=bids, max_price=9, time_left_s=9, window_closed=True)  # type: ignore[arg-type]
