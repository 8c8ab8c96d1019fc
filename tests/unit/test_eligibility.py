"""The dates that decide eligibility, shared by pre-trade, execution, the coupon calendar and coupon jobs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bondflow.domain.bonds import BondTerms, BusinessCalendar, DayCount, build_schedule
from bondflow.domain.eligibility import (
    in_record_date_window,
    last_execution_date,
    next_payment,
    reachable_settlement_dates,
    record_date,
    settlement_date,
)

CALENDAR = BusinessCalendar().with_holidays(date(2026, 12, 25))


def test_settlement_is_one_business_day_after_the_trade_date() -> None:
    assert settlement_date(CALENDAR, date(2026, 12, 4)) == date(2026, 12, 7)  # Friday → Monday
    assert settlement_date(CALENDAR, date(2026, 12, 24)) == date(2026, 12, 28)  # over Christmas and a weekend


def test_an_order_lives_through_the_next_business_day_and_reaches_two_settlement_dates() -> None:
    assert last_execution_date(CALENDAR, date(2026, 12, 4)) == date(2026, 12, 7)
    assert reachable_settlement_dates(CALENDAR, date(2026, 12, 4)) == (date(2026, 12, 7), date(2026, 12, 8))


def test_a_record_date_counts_back_from_the_adjusted_payment_date_and_is_not_itself_adjusted() -> None:
    bond = BondTerms(Decimal("8"), 2, date(2023, 1, 24), date(2030, 1, 24), Decimal("100"), DayCount.ACT_365F)
    coupon = next_payment(build_schedule(bond, CALENDAR).coupons, date(2026, 12, 4))
    assert coupon is not None
    assert (coupon.accrual_end, coupon.payment_date) == (
        date(2027, 1, 24),
        date(2027, 1, 25),
    )  # Sunday → Monday
    assert record_date(coupon.payment_date, 15) == date(2027, 1, 10)  # a Sunday, left as it is
    assert in_record_date_window(coupon.payment_date, 15, date(2027, 1, 11))
    assert not in_record_date_window(coupon.payment_date, 15, date(2027, 1, 8))
    assert not in_record_date_window(coupon.payment_date, 15, date(2027, 1, 25))  # on the payment date


def test_the_next_payment_after_a_payment_date_is_the_following_one() -> None:
    bond = BondTerms(Decimal("8"), 2, date(2023, 1, 24), date(2030, 1, 24), Decimal("100"), DayCount.ACT_365F)
    coupon = next_payment(build_schedule(bond, CALENDAR).coupons, date(2027, 1, 25))
    assert coupon is not None and coupon.payment_date == date(2027, 7, 26)  # 24 Jul 2027 is a Saturday
