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
        consideration=Decimal("2687.79"),
        **WHO,
    )


def every_settlement_event() -> list[Any]:
    done = settlement("BUY")
    done.instruct_payment(deadline_at=NOW, **WHO)
    done.expire(now=NOW, forced_by="ops-1", **WHO)
    done.confirm_payment(reference="REF", **WHO)
    done.request_token_transfer(deadline_at=NOW, **WHO)
    done.raise_break(step="token", reason="chain down", **WHO)
    done.retry(deadline_at=NOW, **WHO)
    done.fail_token_transfer(code="BF-SET-007", reason="late", tx_hash=None, **WHO)
    done.request_refund(**WHO)
    done.refund(reference="refund:x", **WHO)
    done.fail(**WHO)
    ok = settlement("SELL")
    ok.request_token_transfer(deadline_at=NOW, **WHO)
    ok.token_transferred(tx_hash="0xabc", **WHO)
    ok.instruct_payment(deadline_at=NOW, **WHO)
    ok.fail_payment(code="BF-PAY-006", reason="refused", **WHO)
    paid = settlement("BUY")
    paid.instruct_payment(deadline_at=NOW, **WHO)
    paid.confirm_payment(reference="REF", **WHO)
    paid.request_token_transfer(deadline_at=NOW, **WHO)
    paid.token_transferred(tx_hash="0xabc", **WHO)
    paid.complete(**WHO)
    return [*done.collect_events(), *ok.collect_events(), *paid.collect_events()]


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
