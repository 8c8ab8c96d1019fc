"""Trade costs and the money each settlement event moves (issue 12 defect 6): the dealer gets or pays the
gross, the platform fee goes to `platform:fees`, the buyer pays stamp duty (0.0001 %, half-up to the
paisa), and every event's lines balance and carry their parties."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from bondflow.domain.settlement import Settlement
from bondflow.domain.settlement_money import Line, movements, terms_of

NOW = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)
WHO = {"actor_id": "system:settlement", "request_id": "r"}


def test_the_buyer_pays_gross_fee_and_stamp_duty_rounded_half_up_and_the_seller_gets_gross_less_fee() -> None:
    buy = terms_of("BUY", Decimal("1005.00"), Decimal("5.00"))
    assert (buy.gross, buy.fee, buy.stamp_duty) == (Decimal("1000.00"), Decimal("5.00"), Decimal("0.00"))
    big = terms_of("BUY", Decimal("2505000.00"), Decimal("5000.00"))  # 0.0001 % of 25,00,000 = 2.50
    assert big.stamp_duty == Decimal("2.50") and big.investor_cash == Decimal("2505002.50")
    half = terms_of("BUY", Decimal("5005.00"), Decimal("0.00"))  # 0.005005 rounds half-up to 0.01
    assert half.stamp_duty == Decimal("0.01")
    sell = terms_of("SELL", Decimal("1005.00"), Decimal("5.00"))
    assert (sell.gross, sell.stamp_duty, sell.investor_cash) == (
        Decimal("1000.00"),
        Decimal(0),
        Decimal("995.00"),
    )


def _settled(side: str) -> tuple[Settlement, list[Line]]:
    s = Settlement.start(
        trade_id=str(uuid.uuid4()),
        order_id="o-1",
        user_id="alice",
        isin="INE123A07043",
        side=side,
        dealer="alpha",
        qty=Decimal(25),
        terms=terms_of(side, Decimal("2505000.00"), Decimal("5000.00")),
        **WHO,
    )
    s.request_hold(expires_at=NOW, deadline_at=NOW, **WHO)
    s.hold_placed(hold_id="h", **WHO)
    if side == "BUY":
        s.clear_investor_cash(**WHO)
    else:
        s.instruct_payment(deadline_at=NOW, **WHO)
        s.confirm_payment(reference="IN", **WHO)
    s.request_token_transfer(deadline_at=NOW, **WHO)
    s.token_transferred(tx_hash="0x", **WHO)
    if side == "BUY":
        s.instruct_payout(deadline_at=NOW, **WHO)
        s.confirm_payout(reference="OUT", **WHO)
    s.complete(**WHO)
    return s, [line for e in s.collect_events() for line in movements(e, s)]


def balances(lines: list[Line]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for line in lines:
        totals[line.debit] = totals.get(line.debit, Decimal(0)) + line.amount
        totals[line.credit] = totals.get(line.credit, Decimal(0)) - line.amount
    return {account: amount for account, amount in totals.items() if amount}


def test_a_settled_buy_pays_the_dealer_the_gross_and_books_fee_and_stamp_duty_apart() -> None:
    _s, lines = _settled("BUY")
    assert balances(lines) == {  # debit positive, credit negative; clearing ends empty
        "investor:alice:reserved": Decimal("2505002.50"),
        "platform:fees": Decimal("-5000.00"),
        "tax:stamp_duty": Decimal("-2.50"),
        "bank:escrow": Decimal("-2500000.00"),
    }
    assert sum(balances(lines).values()) == 0


def test_a_settled_sell_collects_the_gross_from_the_dealer_and_credits_the_investor_less_the_fee() -> None:
    _s, lines = _settled("SELL")
    assert balances(lines) == {
        "bank:escrow": Decimal("2500000.00"),
        "investor:alice:available": Decimal("-2495000.00"),
        "platform:fees": Decimal("-5000.00"),
    }
