"""The DvP saga without infrastructure: the Settlement state machine with token holds (given events → when
command → then events), its compensations, and the pure decisions (event in → commands out)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bondflow.domain.settlement import Settlement, SettlementState
from bondflow.domain.settlement_money import terms_of
from bondflow.saga import decide as d
from bondflow.workers.settlement_chain import ChainLegWorker
from bondflow.workers.settlement_payments import PaymentLegWorker

NOW = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)
WHO = {"actor_id": "system:settlement", "request_id": "r"}
S = SettlementState


def started(side: str = "BUY") -> Settlement:
    return Settlement.start(
        trade_id=str(uuid.uuid4()),
        order_id=str(uuid.uuid4()),
        user_id="alice",
        isin="INE123A07043",
        side=side,
        dealer="dealer-alpha",
        qty=Decimal(5),
        terms=terms_of(side, Decimal("5375.59"), Decimal("2.69")),
        **WHO,
    )


def held(side: str = "BUY") -> Settlement:
    s = started(side)
    assert s.request_hold(expires_at=NOW + timedelta(minutes=5), deadline_at=LATER, **WHO)
    assert s.hold_placed(hold_id="hold-1", **WHO)
    return s


def names(settlement: Settlement) -> list[str]:
    return [type(e).__name__ for e in settlement.collect_events()]


def test_a_buy_holds_the_dealers_tokens_clears_the_cash_executes_the_hold_and_pays_the_dealer_last() -> None:
    s = started("BUY")
    assert not s.request_token_transfer(deadline_at=LATER, **WHO)  # never tokens before the hold and cash
    assert s.request_hold(expires_at=NOW + timedelta(minutes=5), deadline_at=LATER, **WHO)
    assert s.token_from == "dealer:dealer-alpha" and s.token_to == "investor:alice"
    assert s.hold_placed(hold_id="hold-1", **WHO)
    assert not s.instruct_payout(deadline_at=LATER, **WHO)  # no cash leaves before the tokens are final
    assert s.clear_investor_cash(**WHO)
    assert s.request_token_transfer(deadline_at=LATER, **WHO)
    assert not s.instruct_payout(deadline_at=LATER, **WHO)
    assert s.token_transferred(tx_hash="0xabc", **WHO)
    assert s.instruct_payout(deadline_at=LATER, **WHO)
    assert s.confirm_payout(reference="SBXSETREF", **WHO)
    assert s.complete(**WHO)
    assert names(s) == [
        "Started",
        "HoldRequested",
        "HoldPlaced",
        "PaymentConfirmed",
        "TokenTransferRequested",
        "TokenTransferred",
        "DealerPayoutInstructed",
        "DealerPaid",
        "Completed",
    ]
    assert s.state is S.COMPLETED and s.dealer_paid == s.gross


def test_a_sell_holds_the_investors_tokens_collects_the_dealers_cash_then_delivers_and_credits() -> None:
    s = held("SELL")
    assert s.token_from == "investor:alice" and s.token_to == "dealer:dealer-alpha"
    assert not s.request_token_transfer(deadline_at=LATER, **WHO)  # not before the dealer's cash is in
    assert s.instruct_payment(deadline_at=LATER, **WHO)
    assert s.confirm_payment(reference="SBXSETIN", **WHO)
    assert s.request_token_transfer(deadline_at=LATER, **WHO)
    assert s.token_transferred(tx_hash="0xabc", **WHO)
    assert s.complete(**WHO)
    events = s.collect_events()
    assert [type(e).__name__ for e in events][-3:] == ["TokenTransferred", "ProceedsCredited", "Completed"]
    credited = events[-2]
    assert credited.amount == s.gross - s.fee == s.consideration and credited.fee == s.fee


def test_every_transition_repeated_records_nothing() -> None:
    s = held("BUY")
    s.clear_investor_cash(**WHO)
    s.collect_events()
    assert not s.request_hold(expires_at=NOW, deadline_at=NOW, **WHO)
    assert not s.hold_placed(hold_id="other", **WHO)
    assert not s.clear_investor_cash(**WHO)
    assert not s.fail_payment(code="BF-PAY-006", reason="late", **WHO)
    assert not s.raise_break(step="hold", reason="late", **WHO)
    assert s.collect_events() == []
    assert s.hold_id == "hold-1"


def test_a_hold_that_cannot_be_placed_fails_the_settlement_with_nothing_moved() -> None:
    s = started("BUY")
    s.request_hold(expires_at=NOW, deadline_at=LATER, **WHO)
    assert s.fail_hold(code="BF-SET-006", reason="insufficient free token balance", **WHO)
    assert s.can_fail and not s.returns_cash and not s.paid
    assert s.fail(**WHO)
    assert names(s)[-2:] == ["HoldFailed", "Failed"]


def test_a_buy_whose_tokens_do_not_arrive_gets_its_cash_back_from_clearing() -> None:
    s = held("BUY")
    s.clear_investor_cash(**WHO)
    s.request_token_transfer(deadline_at=LATER, **WHO)
    assert s.expire(now=LATER, **WHO)  # not final by its deadline: the worker releases the hold
    assert s.fail_token_transfer(code="BF-SET-007", reason="not final", tx_hash=None, at_deadline=True, **WHO)
    assert s.returns_cash
    assert s.fail(**WHO)
    events = s.collect_events()
    assert [type(e).__name__ for e in events][-2:] == ["CashReturned", "Failed"]
    assert events[-2].amount == s.consideration == s.gross + s.fee + s.stamp_duty
    assert s.dealer_paid == 0  # no cash ever left for the dealer: nothing to get back from outside


def test_a_sell_whose_tokens_do_not_move_refunds_the_dealer_before_it_fails() -> None:
    s = held("SELL")
    s.instruct_payment(deadline_at=LATER, **WHO)
    s.confirm_payment(reference="IN", **WHO)
    s.request_token_transfer(deadline_at=LATER, **WHO)
    s.fail_token_transfer(code="BF-SET-006", reason="rejected", tx_hash=None, **WHO)
    assert not s.fail(**WHO)  # never failed while clearing still holds the dealer's money
    assert s.instruct_refund(deadline_at=LATER, **WHO)
    assert s.confirm_refund(reference="OUT", **WHO)
    assert s.fail(**WHO)
    assert s.state is S.FAILED and s.failure_code == "BF-SET-006" and s.dealer_paid == s.gross


def test_a_sell_whose_dealer_does_not_pay_releases_the_hold_and_fails() -> None:
    s = held("SELL")
    s.instruct_payment(deadline_at=LATER, **WHO)
    assert s.fail_payment(code="BF-PAY-006", reason="refused", **WHO)
    assert not s.fail(**WHO)  # the investor's tokens are still held
    assert s.request_release(deadline_at=LATER, **WHO)
    assert s.hold_released(**WHO)
    assert s.fail(**WHO)


def test_a_buy_short_of_cash_at_clearing_releases_the_hold_and_fails() -> None:
    s = held("BUY")
    assert s.fail_payment(code="BF-ORD-007", reason="reservation short", **WHO)
    assert s.request_release(deadline_at=LATER, **WHO) and s.hold_released(**WHO) and s.fail(**WHO)


def test_a_payout_past_its_deadline_becomes_a_break_an_operator_retries_and_never_cancels() -> None:
    """Issue 12 defect 2: a step whose deadline had passed could never become a break."""
    s = held("BUY")
    s.clear_investor_cash(**WHO)
    s.request_token_transfer(deadline_at=LATER, **WHO)
    s.token_transferred(tx_hash="0xabc", **WHO)
    s.instruct_payout(deadline_at=LATER, **WHO)
    assert not s.expire(now=NOW, **WHO)
    assert s.expire(now=LATER, **WHO)
    assert not s.expire(now=LATER + timedelta(hours=1), **WHO)  # once per attempt
    assert s.raise_break(step="payout", reason="provider down at the deadline", **WHO)
    assert not s.force_cancellable  # the tokens are delivered: the dealer must be paid, never undone
    assert not s.raise_break(step="payout", reason="again", **WHO)
    assert s.retry(deadline_at=LATER + timedelta(minutes=1), actor_id="ops-1", request_id="r")
    assert s.state is S.PAYOUT_INSTRUCTED and s.attempt == 1
    assert s.expire(now=LATER + timedelta(minutes=2), **WHO)  # the new attempt has its own deadline
    assert s.confirm_payout(reference="REF", **WHO) and s.complete(**WHO)


def test_a_broken_hold_is_retried_or_force_cancelled_by_an_operator() -> None:
    s = started("BUY")
    s.request_hold(expires_at=NOW, deadline_at=LATER, **WHO)
    assert s.raise_break(step="hold", reason="chain unavailable", **WHO)
    assert not s.expire(now=LATER + timedelta(hours=1), **WHO)  # the timer leaves breaks to operators
    assert s.force_cancellable
    assert s.expire(now=NOW, forced_by="ops-1", actor_id="ops-1", request_id="r")
    assert s.state is S.HOLD_REQUESTED  # the chain worker releases it and reports the failure
    assert not s.fail_hold(code="BF-SET-006", reason="released", **WHO)  # the poll saw the release
    assert s.fail_hold(code="BF-SET-009", reason="force-cancelled", at_deadline=True, **WHO) and s.fail(**WHO)


def test_once_the_deadline_is_recorded_only_the_deadline_handler_reports_the_failure() -> None:
    """A finality poll that sees the hold the deadline handler has just released must not record it as the
    chain's rejection (BF-SET-006): the failure is the timeout (BF-SET-007), whichever report lands first."""
    s = held("BUY")
    s.clear_investor_cash(**WHO)
    s.request_token_transfer(deadline_at=LATER, **WHO)
    assert s.expire(now=LATER, **WHO)
    assert not s.fail_token_transfer(code="BF-SET-006", reason="released", tx_hash=None, **WHO)
    assert s.fail_token_transfer(code="BF-SET-007", reason="late", tx_hash=None, at_deadline=True, **WHO)
    assert s.failure_code == "BF-SET-007"
    sell = held("SELL")
    sell.instruct_payment(deadline_at=LATER, **WHO)
    assert sell.expire(now=LATER, **WHO)
    assert not sell.fail_payment(code="BF-PAY-006", reason="cancelled", **WHO)
    assert sell.fail_payment(code="BF-SET-007", reason="late", at_deadline=True, **WHO)
    assert sell.failure_code == "BF-SET-007"


def test_before_its_deadline_a_provider_failure_is_recorded_as_it_comes() -> None:
    s = held("BUY")
    s.clear_investor_cash(**WHO)
    s.request_token_transfer(deadline_at=LATER, **WHO)
    assert s.fail_token_transfer(code="BF-SET-006", reason="rejected", tx_hash=None, **WHO)
    assert s.failure_code == "BF-SET-006"


WORKERS_FOLLOW = {
    cls.__name__ for worker in (ChainLegWorker, PaymentLegWorker) for cls in worker.requests.values()
} | {"DeadlineExpired", "RetryRequested"}


def way_out(s: Settlement, last_event: Any) -> bool:
    """Terminal, or the saga or a step worker acts on the last event, or an operator can act."""
    name = type(last_event).__name__
    return s.terminal or name in d.NEXT or name in WORKERS_FOLLOW or s.state is S.BROKEN


def test_every_state_a_settlement_reaches_has_a_way_out() -> None:
    """Every non-terminal state is left by the saga, the timer, `retry` or `force-cancel`."""
    flows: list[tuple[str, list[Callable[[Settlement], bool]]]] = [
        (
            "BUY",
            [
                lambda s: s.clear_investor_cash(**WHO),
                lambda s: s.request_token_transfer(deadline_at=LATER, **WHO),
            ],
        ),
        ("SELL", [lambda s: s.instruct_payment(deadline_at=LATER, **WHO)]),
    ]
    for side, steps in flows:
        s = held(side)
        for step in [
            *steps,
            lambda s: s.expire(now=LATER, **WHO),
            lambda s: s.raise_break(step=s.deadline_step or "token", reason="x", **WHO),
        ]:
            step(s)
            events = s.collect_events()
            assert not events or way_out(s, events[-1]), (side, s.state)


def test_the_saga_decides_the_next_step_from_each_event_by_side() -> None:
    buy, sell = held("BUY"), held("SELL")
    b = {type(e).__name__: e for e in buy.collect_events()}
    sid = b["Started"].originator_id
    assert d.decide(b["Started"], "BUY") == [d.RequestHold(sid)]
    assert d.decide(b["HoldRequested"], "BUY") == []  # the chain worker's turn
    assert d.decide(b["HoldPlaced"], "BUY") == [d.ClearInvestorCash(sid)]
    placed = sell.collect_events()[-1]
    assert d.decide(placed, "SELL") == [d.InstructPayment(sell.id)]
    sell.instruct_payment(deadline_at=LATER, **WHO)
    sell.fail_payment(code="BF-PAY-006", reason="refused", **WHO)
    assert d.decide(sell.collect_events()[-1], "SELL") == [d.ReleaseHold(sell.id)]


def test_a_trades_execution_and_its_settlements_events_share_one_in_flight_lane() -> None:
    """With many settlements in flight, one settlement's events stay in log order: `TradeExecuted` (whose
    aggregate is the trade) is handled in the lane of the settlement it starts."""
    from uuid import uuid4

    from bondflow.domain.settlement import settlement_id
    from bondflow.saga.decide import EXECUTED
    from bondflow.saga.follower import SettlementSaga

    saga = SettlementSaga.__new__(SettlementSaga)
    trade = uuid4()
    executed = object.__new__(EXECUTED)
    object.__setattr__(executed, "originator_id", trade)
    later = object.__new__(Settlement.HoldRequested)  # type: ignore[attr-defined]
    object.__setattr__(later, "originator_id", settlement_id(str(trade)))
    assert saga.aggregate_of(executed) == saga.aggregate_of(later) == settlement_id(str(trade))
