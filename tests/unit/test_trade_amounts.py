"""Trade amounts round half-up to the paisa once, and a BUY's reservation bounds every execution it can have:
whatever the split into fills, their prices under the cap and the day it executes within its life."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bondflow.domain.bonds import BondTerms, BusinessCalendar, DayCount
from bondflow.domain.bonds.dates import add_months
from bondflow.domain.eligibility import ORDER_LIFE_BUSINESS_DAYS, settlement_date
from bondflow.domain.pretrade import consideration
from bondflow.domain.trade_amounts import (
    FillAllocator,
    accrued_at,
    reservation_accrued,
    trade_amounts,
)

UNIT = Decimal("0.000001")
TICK = Decimal("0.0001")


def test_one_fill_is_rounded_like_an_order_of_its_size_and_fills_add_up_to_the_rounded_whole() -> None:
    allocator = FillAllocator(Decimal(1000), Decimal(5))
    # three fills of 0.000005 units at 100: each is worth 0.005 exactly, the three 0.015
    fills = [allocator.allocate(Decimal("0.000005"), Decimal(100), Decimal(0)) for _ in range(3)]
    assert [f.gross for f in fills] == [Decimal("0.01"), Decimal("0.00"), Decimal("0.01")]  # 0.01, 0.01, 0.02
    assert (
        sum(f.gross for f in fills)
        == trade_amounts(Decimal("0.000015"), Decimal(1000), Decimal(100), Decimal(0), Decimal(5)).gross
    )
    # rounding each fill on its own (half-up or up) would have charged 0.03 for 0.015 of bonds
    assert fills[0] == trade_amounts(Decimal("0.000005"), Decimal(1000), Decimal(100), Decimal(0), Decimal(5))


def test_the_reservation_takes_the_accrued_of_the_latest_settlement_the_order_can_reach() -> None:
    bond = BondTerms(
        Decimal("8.75"), 1, date(2024, 3, 15), date(2031, 3, 15), Decimal(1000), DayCount.ACT_ACT_SEBI
    )
    calendar = BusinessCalendar()
    wednesday = date(2026, 11, 25)  # settles Thursday; executed after midnight it settles Friday
    assert reservation_accrued(bond, calendar, wednesday) == accrued_at(bond, calendar, date(2026, 11, 27))
    assert accrued_at(bond, calendar, date(2026, 11, 27)) > accrued_at(bond, calendar, date(2026, 11, 26))
    # across a coupon date accrued falls back: the larger, earlier settlement bounds the order
    before_coupon = date(
        2027, 3, 11
    )  # settles Fri 12 Mar; a day later it settles Mon 15 Mar, the coupon date
    assert accrued_at(bond, calendar, date(2027, 3, 15)) == 0
    assert reservation_accrued(bond, calendar, before_coupon) == accrued_at(bond, calendar, date(2027, 3, 12))


@st.composite
def orders(draw: st.DrawFn) -> tuple[BondTerms, BusinessCalendar, date, Decimal, Decimal, Decimal]:
    """A bond, a calendar with some holidays, a trade date in the bond's life, qty, price cap and fee."""
    issue = draw(st.dates(date(2000, 1, 1), date(2040, 12, 31)))
    maturity = add_months(issue, draw(st.integers(1, 360))) + timedelta(days=draw(st.integers(0, 200)))
    terms = BondTerms(
        coupon_rate=Decimal(draw(st.integers(0, 2000))) / 100,
        coupon_frequency=draw(st.sampled_from([1, 2, 4, 12])),
        issue_date=issue,
        maturity_date=maturity,
        face_value=Decimal(draw(st.sampled_from([100, 1000, 100000]))),
        day_count=draw(st.sampled_from(list(DayCount))),
    )
    trade_date = issue + timedelta(days=draw(st.integers(0, (maturity - issue).days)))
    holidays = draw(st.lists(st.integers(0, 10), max_size=3))
    calendar = BusinessCalendar().with_holidays(trade_date + timedelta(days=n) for n in holidays)
    qty = Decimal(draw(st.integers(1, 10**10))) * UNIT
    cap = Decimal(draw(st.integers(1, 2_000_000))) * TICK
    fee_bps = Decimal(draw(st.integers(0, 100)))
    return terms, calendar, trade_date, qty, cap, fee_bps


@settings(max_examples=200, deadline=None)
@given(order=orders(), data=st.data())
def test_the_fills_of_any_execution_within_the_orders_life_never_exceed_the_reservation(
    order: tuple[BondTerms, BusinessCalendar, date, Decimal, Decimal, Decimal], data: st.DataObject
) -> None:
    terms, calendar, trade_date, qty, cap, fee_bps = order
    reserved = consideration(
        qty, terms.face_value, cap, reservation_accrued(terms, calendar, trade_date), fee_bps
    )

    executed_on = calendar.add_business_days(trade_date, data.draw(st.integers(0, ORDER_LIFE_BUSINESS_DAYS)))
    accrued = accrued_at(terms, calendar, settlement_date(calendar, executed_on))
    units = int(qty / UNIT)
    cuts = sorted(data.draw(st.lists(st.integers(0, units), max_size=6)))
    filled_units = data.draw(st.integers(cuts[-1] if cuts else 0, units))  # the IOC remainder is cancelled
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, filled_units], strict=True) if b > a]
    allocator = FillAllocator(terms.face_value, fee_bps)
    total = Decimal(0)
    for size in sizes:
        price = Decimal(data.draw(st.integers(1, int(cap / TICK)))) * TICK
        fill = allocator.allocate(size * UNIT, price, accrued)
        assert fill.gross >= 0 and fill.fees >= 0
        total += fill.consideration

    assert total <= reserved
