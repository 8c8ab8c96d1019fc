"""Coupon schedules and the business-day calendar: payments move to business days, accrual never does."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import date
from decimal import Decimal

import pytest

from bondflow.domain.bonds import (
    MATH_CONTEXT,
    BondTerms,
    BusinessCalendar,
    DayCount,
    build_schedule,
    schedule_dates,
)

NO_HOLIDAYS = BusinessCalendar()


def quarterly_sebi_bond() -> BondTerms:
    return BondTerms(
        Decimal("9"), 4, date(2027, 11, 30), date(2029, 11, 30), Decimal(1000), DayCount.ACT_ACT_SEBI
    )


def test_weekends_and_listed_holidays_are_not_business_days() -> None:
    calendar = BusinessCalendar(frozenset({date(2026, 1, 26)}))  # Republic Day, a Monday

    assert calendar.is_business_day(date(2026, 1, 23))  # Friday
    assert not calendar.is_business_day(date(2026, 1, 24))  # Saturday
    assert not calendar.is_business_day(date(2026, 1, 25))  # Sunday
    assert not calendar.is_business_day(date(2026, 1, 26))
    assert calendar.next_business_day(date(2026, 1, 23)) == date(2026, 1, 27)
    assert calendar.previous_business_day(date(2026, 1, 27)) == date(2026, 1, 23)
    assert calendar.following(date(2026, 1, 24)) == date(2026, 1, 27)
    assert calendar.following(date(2026, 1, 23)) == date(2026, 1, 23)
    assert calendar.preceding(date(2026, 1, 26)) == date(2026, 1, 23)


def test_adding_business_days_skips_weekends_and_holidays_both_ways() -> None:
    calendar = BusinessCalendar().with_holidays(date(2026, 1, 26))

    assert calendar.add_business_days(date(2026, 1, 22), 2) == date(2026, 1, 27)
    assert calendar.add_business_days(date(2026, 1, 27), -2) == date(2026, 1, 22)
    assert calendar.add_business_days(date(2026, 1, 24), 0) == date(2026, 1, 24)


def test_adding_holidays_returns_a_new_calendar_and_leaves_the_old_one_alone() -> None:
    base = BusinessCalendar()
    extended = base.with_holidays(date(2026, 8, 15), [date(2026, 10, 2), date(2026, 11, 9)])

    assert extended.holidays == frozenset({date(2026, 8, 15), date(2026, 10, 2), date(2026, 11, 9)})
    assert base.holidays == frozenset()
    with pytest.raises(FrozenInstanceError):
        base.holidays = frozenset()  # type: ignore[misc]


def test_a_coupon_date_on_a_holiday_is_paid_the_next_business_day_with_the_same_accrual_and_amount() -> None:
    bond = quarterly_sebi_bond()
    holiday = date(2028, 5, 30)  # a Tuesday coupon date
    plain = build_schedule(bond, NO_HOLIDAYS).coupons[1]
    moved = build_schedule(bond, NO_HOLIDAYS.with_holidays(holiday)).coupons[1]

    assert plain.payment_date == plain.accrual_end == holiday
    assert moved.payment_date == date(2028, 5, 31)
    assert (moved.accrual_start, moved.accrual_end) == (date(2028, 2, 29), holiday)
    assert moved.amount == plain.amount  # 1000 x 9% x 91 / 366 either way
    # the next period still starts on the unadjusted date
    assert build_schedule(bond, NO_HOLIDAYS.with_holidays(holiday)).coupons[2].accrual_start == holiday


def test_a_coupon_date_on_a_weekend_is_paid_on_the_monday() -> None:
    bond = BondTerms(
        Decimal("7.5"), 2, date(2023, 6, 15), date(2025, 6, 16), Decimal(100), DayCount.ACT_ACT_SEBI
    )
    coupon = build_schedule(bond, NO_HOLIDAYS).coupons[1]

    assert coupon.accrual_end == date(2024, 6, 15)  # a Saturday
    assert coupon.payment_date == date(2024, 6, 17)


def test_a_maturity_on_a_holiday_is_redeemed_the_previous_business_day_without_changing_the_amounts() -> None:
    """Outside SEBI's rule (here ACT/365F) the last period still accrues to the unadjusted maturity."""
    bond = BondTerms(
        Decimal("9"), 4, date(2027, 11, 30), date(2029, 11, 30), Decimal(1000), DayCount.ACT_365F
    )
    maturity = date(2029, 11, 30)  # a Friday, declared a holiday
    plain = build_schedule(bond, NO_HOLIDAYS)
    schedule = build_schedule(bond, NO_HOLIDAYS.with_holidays(maturity))

    assert plain.redemption_payment_date == maturity
    assert schedule.redemption_date == maturity
    assert schedule.redemption_payment_date == date(2029, 11, 29)
    assert schedule.coupons[-1].payment_date == date(2029, 11, 29)
    assert schedule.coupons[-1].accrual_end == maturity
    assert schedule.coupons[-1].amount == plain.coupons[-1].amount
    assert schedule.redemption_amount == Decimal(1000)


def test_sebi_bonds_maturing_on_a_holiday_pay_interest_up_to_but_excluding_the_earlier_payment_date() -> None:
    bond = quarterly_sebi_bond()
    maturity = date(2029, 11, 30)  # a Friday, declared a holiday: redeemed on Thursday 29 Nov
    plain = build_schedule(bond, NO_HOLIDAYS).coupons[-1]
    last = build_schedule(bond, NO_HOLIDAYS.with_holidays(maturity)).coupons[-1]

    assert (plain.accrual_start, plain.accrual_end) == (date(2029, 8, 30), maturity)
    assert (last.accrual_start, last.accrual_end, last.payment_date) == (
        date(2029, 8, 30),
        date(2029, 11, 29),
        date(2029, 11, 29),
    )
    # 1000 x 9% x 91 / 365 (the anniversary year 30 Nov 2028 - 30 Nov 2029 has no 29 February), not 92 days
    assert last.amount == MATH_CONTEXT.divide(Decimal(1000 * 9 * 91), Decimal(100 * 365))
    assert (last.reference_start, last.reference_end) == (date(2029, 8, 30), maturity)
    assert not last.is_regular


def test_a_maturity_on_a_sunday_is_redeemed_on_the_friday_before() -> None:
    bond = BondTerms(Decimal("7.5"), 2, date(2023, 6, 15), date(2025, 6, 15), Decimal(100), DayCount.ACT_365F)

    assert build_schedule(bond, NO_HOLIDAYS).redemption_payment_date == date(2025, 6, 13)


def test_month_end_issue_dates_keep_their_day_clamped_to_each_month_without_drifting() -> None:
    bond = BondTerms(
        Decimal("7"), 12, date(2023, 11, 30), date(2024, 5, 30), Decimal(100), DayCount.THIRTY_E_360
    )

    assert schedule_dates(bond) == (
        date(2023, 11, 30),
        date(2023, 12, 30),
        date(2024, 1, 30),
        date(2024, 2, 29),
        date(2024, 3, 30),
        date(2024, 4, 30),
        date(2024, 5, 30),
    )


def test_a_maturity_off_the_coupon_grid_ends_the_schedule_with_a_short_stub() -> None:
    bond = BondTerms(Decimal("7"), 2, date(2024, 1, 15), date(2025, 3, 1), Decimal(100), DayCount.ACT_365F)
    coupons = build_schedule(bond, NO_HOLIDAYS).coupons

    assert [c.accrual_end for c in coupons] == [date(2024, 7, 15), date(2025, 1, 15), date(2025, 3, 1)]
    assert [c.is_regular for c in coupons] == [True, True, False]
    assert (coupons[-1].reference_start, coupons[-1].reference_end) == (date(2025, 1, 15), date(2025, 7, 15))
    # ACT/365F coupons are face x rate x actual days / 365 (as QuantLib's FixedRateBond): 45 days here
    assert abs(coupons[-1].amount - MATH_CONTEXT.divide(Decimal(315), Decimal(365))) < Decimal("1e-30")
