"""The DvP saga without infrastructure: the Settlement state machine (given events → when command → then
events) and the pure decisions (event in → commands out)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bondflow.domain.settlement import Settlement, SettlementState, cash_amount
from bondflow.settlement import decide as d

NOW = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
WHO = {"actor_id": "system:settlement", "request_id": "r"}


def started(side: str = "BUY") -> Settlement:
    return Settlement.start(
        trade_id=str(uuid.uuid4()),
        order_id=str(uuid.uuid4()),
        user_id="alice",
        isin="INE123A07043",
        side=side,
        dealer="dealer-alpha",
        qty=Decimal(5),
        consideration=Decimal("5375.59"),
        **WHO,
    )


def names(settlement: Settlement) -> list[str]:
    return [type(e).__name__ for e in settlement.collect_events()]


def test_a_buy_pays_first_then_receives_tokens_then_completes() -> None:
    s = started("BUY")
    assert not s.request_token_transfer(deadline_at=NOW, **WHO)  # never tokens before the cash leg
    assert s.instruct_payment(deadline_at=NOW, **WHO)
    assert s.confirm_payment(reference="REF", **WHO)
    assert s.request_token_transfer(deadline_at=NOW, **WHO)
    assert s.token_transferred(tx_hash="0xabc", **WHO)
    assert s.complete(**WHO)
    assert names(s) == [
        "Started",
        "PaymentInstructed",
        "PaymentConfirmed",
        "TokenTransferRequested",
        "TokenTransferred",
        "Completed",
    ]
    assert s.state is SettlementState.COMPLETED


def test_a_sell_moves_tokens_first_then_collects_the_cash() -> None:
    s = started("SELL")
    assert not s.instruct_payment(deadline_at=NOW, **WHO)
    assert s.request_token_transfer(deadline_at=NOW, **WHO)
    assert s.token_from == "investor:alice" and s.token_to == "dealer:dealer-alpha"
    assert s.token_transferred(tx_hash="0xabc", **WHO)
    assert s.instruct_payment(deadline_at=NOW, **WHO)
    assert s.confirm_payment(reference="REF", **WHO)
    assert s.complete(**WHO)


def test_every_transition_repeated_records_nothing() -> None:
    s = started("BUY")
    s.instruct_payment(deadline_at=NOW, **WHO)
    s.confirm_payment(reference="REF", **WHO)
    s.collect_events()
    assert not s.instruct_payment(deadline_at=NOW, **WHO)
    assert not s.confirm_payment(reference="OTHER", **WHO)
    assert not s.fail_payment(code="BF-PAY-006", reason="late", **WHO)
    assert s.collect_events() == []
    assert s.payment_reference == "REF"


def test_a_token_failure_after_payment_is_refunded_before_the_settlement_fails() -> None:
    s = started("BUY")
    s.instruct_payment(deadline_at=NOW, **WHO)
    s.confirm_payment(reference="REF", **WHO)
    s.request_token_transfer(deadline_at=NOW, **WHO)
    s.fail_token_transfer(code="BF-SET-007", reason="not final", tx_hash=None, **WHO)
    assert not s.fail(**WHO)  # never failed while the cash is still with the dealer
    assert s.request_refund(**WHO)
    assert s.refund(reference="refund:t", **WHO)
    assert s.fail(**WHO)
    assert s.state is SettlementState.FAILED and s.failure_code == "BF-SET-007"


def test_a_deadline_fires_once_per_step_and_only_after_it_passed() -> None:
    s = started("BUY")
    s.instruct_payment(deadline_at=NOW + timedelta(seconds=30), **WHO)
    assert not s.expire(now=NOW, **WHO)
    assert s.expire(now=NOW + timedelta(seconds=31), **WHO)
    assert not s.expire(now=NOW + timedelta(seconds=60), **WHO)
    assert s.state is SettlementState.PAYMENT_INSTRUCTED  # the effect worker resolves it at the provider


def test_a_broken_step_waits_for_an_operator_who_retries_or_force_cancels_it() -> None:
    s = started("BUY")
    s.instruct_payment(deadline_at=NOW, **WHO)
    assert s.raise_break(step="payment", reason="provider unavailable", **WHO)
    assert not s.expire(now=NOW + timedelta(hours=1), **WHO)  # the timer leaves breaks to operators
    assert s.retry(deadline_at=NOW + timedelta(seconds=30), actor_id="ops-1", request_id="r")
    assert s.state is SettlementState.PAYMENT_INSTRUCTED
    s.raise_break(step="payment", reason="still down", **WHO)
    assert s.force_cancellable
    assert s.expire(now=NOW, forced_by="ops-1", actor_id="ops-1", request_id="r")


def test_a_sell_whose_dealer_payment_failed_is_a_break_that_cannot_be_force_cancelled() -> None:
    s = started("SELL")
    s.request_token_transfer(deadline_at=NOW, **WHO)
    s.token_transferred(tx_hash="0xabc", **WHO)
    s.instruct_payment(deadline_at=NOW, **WHO)
    s.fail_payment(code="BF-PAY-006", reason="refused", **WHO)
    assert s.raise_break(step="payment", reason="dealer did not pay", **WHO)
    assert s.state is SettlementState.BROKEN
    assert not s.force_cancellable
    assert s.retry(deadline_at=NOW, actor_id="ops-1", request_id="r")
    assert s.confirm_payment(reference="REF", **WHO) and s.complete(**WHO)


def _events(side: str) -> dict[str, Any]:
    s = started(side)
    s.instruct_payment(deadline_at=NOW, **WHO) if side == "BUY" else None
    return {type(e).__name__: e for e in s.collect_events()}


def test_the_saga_decides_the_next_step_from_each_event() -> None:
    buy = _events("BUY")
    sid = buy["Started"].originator_id
    assert d.decide(buy["Started"], "BUY") == [d.InstructPayment(sid)]
    assert d.decide(buy["Started"], "SELL") == [d.RequestTokenTransfer(sid)]
    assert d.decide(buy["PaymentInstructed"], "BUY") == []  # the effect worker's turn


def test_the_saga_compensates_a_failed_leg_by_side() -> None:
    s = started("BUY")
    s.instruct_payment(deadline_at=NOW, **WHO)
    s.fail_payment(code="BF-PAY-006", reason="refused", **WHO)
    failed = s.collect_events()[-1]
    assert d.decide(failed, "BUY") == [d.FailSettlement(s.id)]
    assert d.decide(failed, "SELL") == [d.RaiseBreak(s.id, "payment", "refused")]


def test_a_buy_pays_its_consideration_and_a_sell_receives_the_gross_less_fees() -> None:
    assert cash_amount("BUY", Decimal("1005.00"), Decimal("5.00")) == Decimal("1005.00")
    assert cash_amount("SELL", Decimal("1005.00"), Decimal("5.00")) == Decimal("995.00")
