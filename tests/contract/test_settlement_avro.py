"""Settlement, settled-trade, order-settlement and portfolio-settlement events: each has a topic whose
schema payload lists exactly the event's attributes, and each record encodes and decodes exactly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bondflow.audit.records import ENVELOPE_ATTRIBUTES, NEVER_PUBLISHED, record_of
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import decode, encode
from bondflow.domain.orders import Order
from bondflow.domain.portfolio import Portfolio
from bondflow.domain.settlement import Settlement
from bondflow.domain.settlement_money import terms_of
from bondflow.domain.trades import Trade

NOW = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
WHO = {"actor_id": "system:settlement", "request_id": "r"}


def settlement(side: str) -> Settlement:
    return Settlement.start(
        trade_id=str(uuid.uuid4()),
        order_id=str(uuid.uuid4()),
        user_id="u-1",
        isin="INE123A07043",
        side=side,
        dealer="dealer-alpha",
        qty=Decimal("2.5"),
        terms=terms_of(side, Decimal("2687.79"), Decimal("1.34")),
        **WHO,
    )


def every_settlement_event() -> list[Any]:
    bought = settlement("BUY")  # the whole BUY, with a break on the payout that an operator retries
    bought.request_hold(expires_at=NOW, deadline_at=NOW, **WHO)
    bought.hold_placed(hold_id="h-1", **WHO)
    bought.clear_investor_cash(**WHO)
    bought.request_token_transfer(deadline_at=NOW, **WHO)
    bought.token_transferred(tx_hash="0xabc", **WHO)
    bought.instruct_payout(deadline_at=NOW, **WHO)
    bought.expire(now=NOW, **WHO)
    bought.raise_break(step="payout", reason="provider down", **WHO)
    bought.retry(deadline_at=NOW, **WHO)
    bought.confirm_payout(reference="REF", **WHO)
    bought.complete(**WHO)
    returned = settlement("BUY")  # the token leg fails: the cash comes back from clearing
    returned.request_hold(expires_at=NOW, deadline_at=NOW, **WHO)
    returned.hold_placed(hold_id="h-2", **WHO)
    returned.clear_investor_cash(**WHO)
    returned.request_token_transfer(deadline_at=NOW, **WHO)
    returned.fail_token_transfer(code="BF-SET-007", reason="late", tx_hash=None, **WHO)
    returned.fail(**WHO)
    refused = settlement("BUY")
    refused.request_hold(expires_at=NOW, deadline_at=NOW, **WHO)
    refused.fail_hold(code="BF-SET-006", reason="refused", **WHO)
    sold = settlement("SELL")  # the dealer does not pay: the hold is released
    sold.request_hold(expires_at=NOW, deadline_at=NOW, **WHO)
    sold.hold_placed(hold_id="h-3", **WHO)
    sold.instruct_payment(deadline_at=NOW, **WHO)
    sold.fail_payment(code="BF-PAY-006", reason="refused", **WHO)
    sold.request_release(deadline_at=NOW, **WHO)
    sold.hold_released(**WHO)
    refunded = settlement("SELL")  # the dealer paid, the tokens did not move: the dealer is refunded
    refunded.request_hold(expires_at=NOW, deadline_at=NOW, **WHO)
    refunded.hold_placed(hold_id="h-4", **WHO)
    refunded.instruct_payment(deadline_at=NOW, **WHO)
    refunded.confirm_payment(reference="IN", **WHO)
    refunded.request_token_transfer(deadline_at=NOW, **WHO)
    refunded.fail_token_transfer(code="BF-SET-006", reason="rejected", tx_hash=None, **WHO)
    refunded.instruct_refund(deadline_at=NOW, **WHO)
    refunded.confirm_refund(reference="OUT", **WHO)
    refunded.fail(**WHO)
    delivered = settlement("SELL")
    delivered.request_hold(expires_at=NOW, deadline_at=NOW, **WHO)
    delivered.hold_placed(hold_id="h-5", **WHO)
    delivered.instruct_payment(deadline_at=NOW, **WHO)
    delivered.confirm_payment(reference="IN", **WHO)
    delivered.request_token_transfer(deadline_at=NOW, **WHO)
    delivered.token_transferred(tx_hash="0xdef", **WHO)
    delivered.complete(**WHO)
    legacy = settlement("BUY")  # events recorded before holds only
    legacy._refund_requested(amount=Decimal(1), **WHO)
    legacy._refunded(amount=Decimal(1), reference="refund:x", **WHO)
    flows = (bought, returned, refused, sold, refunded, delivered, legacy)
    return [e for flow in flows for e in flow.collect_events()]


def other_events() -> list[Any]:
    order = Order(
        id=uuid.uuid4(),
        user_id="u-1",
        isin="INE123A07043",
        side="BUY",
        qty=Decimal(1),
        limit_clean_price=None,
        placed_at=NOW,
        request_fingerprint="f",
        **WHO,
    )
    order.accept(**WHO)
    order.route(rfq_id="rfq", dealers=["dealer-alpha"], price_cap=Decimal(101), **WHO)
    order.record_fill(trade_id="t-1", dealer="dealer-alpha", qty=Decimal(1), clean_price=Decimal(100), **WHO)
    order.record_settlement(trade_id="t-1", settled=True, **WHO)
    portfolio = Portfolio.open("u-1")
    portfolio.commit_buy(
        order_id="o",
        isin="INE123A07043",
        qty=Decimal(2),
        issuer="x",
        rating_bucket="AA",
        duration_bucket="1-3y",
        face_value=Decimal(1000),
    )
    portfolio.settle_buy(order_id="o", trade_id="t", isin="INE123A07043", qty=Decimal(2))
    portfolio.reserve_units(order_id="s", isin="INE123A07043", qty=Decimal(1))
    portfolio.settle_sell(order_id="s", trade_id="t2", isin="INE123A07043", qty=Decimal(1))
    trade = Trade(
        id=uuid.uuid4(),
        order_id="o",
        user_id="u-1",
        isin="INE123A07043",
        side="BUY",
        dealer="dealer-alpha",
        quote_id="q",
        qty=Decimal(2),
        clean_price=Decimal("101.2500"),
        accrued_per_100=Decimal("1.5"),
        face_value=Decimal(1000),
        consideration=Decimal("2056.03"),
        fees=Decimal("1.03"),
        reference_clean_price=Decimal("101.25"),
        trade_date=NOW.date(),
        settlement_date=NOW.date(),
        **WHO,
    )
    trade.settle(settlement_id="s", payment_reference="REF", tx_hash="0xabc", **WHO)
    return [order.collect_events()[-1], *portfolio.collect_events(), trade.collect_events()[-1]]


def test_every_settlement_event_type_is_covered_by_the_samples() -> None:
    sampled = {type(e).__name__ for e in every_settlement_event()}
    assert sampled == {
        "Started",
        "PaymentInstructed",
        "PaymentConfirmed",
        "PaymentFailed",
        "TokenTransferRequested",
        "TokenTransferred",
        "TokenTransferFailed",
        "RefundRequested",
        "Refunded",
        "Completed",
        "Failed",
        "DeadlineExpired",
        "BreakRaised",
        "RetryRequested",
        "HoldRequested",
        "HoldPlaced",
        "HoldFailed",
        "HoldReleaseRequested",
        "HoldReleased",
        "DealerPayoutInstructed",
        "DealerPaid",
        "DealerRefundInstructed",
        "DealerRefunded",
        "ProceedsCredited",
        "CashReturned",
    }


def test_each_settlement_event_schema_lists_exactly_its_attributes_and_round_trips() -> None:
    contracts = current_contracts()
    by_fingerprint = {c.fingerprint: c for c in contracts.values()}
    for event in [*every_settlement_event(), *other_events()]:
        record = record_of(event)
        contract = contracts[record["topic"]]
        payload = next(f for f in contract.raw["fields"] if f["name"] == "payload")
        declared = {f["name"] for f in payload["type"]["fields"]}
        attributes = set(event.__dict__) - ENVELOPE_ATTRIBUTES - NEVER_PUBLISHED
        assert attributes == declared, f"{record['topic']}: {sorted(attributes)} vs {sorted(declared)}"
        decoded = decode(encode(record, contract), by_fingerprint)
        assert str(decoded["event_id"]) == record["event_id"]
