"""ACT/ACT-SEBI golden tests, each expected value worked out by hand from the rule in DOMAIN.md:
interest = face x rate x actual days / basis, basis 366 when the issue-anniversary year the days fall in
contains 29 February, else 365, whatever the coupon frequency."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, localcontext

from bondflow.domain.bonds import (
    MATH_CONTEXT,
    BondTerms,
    BusinessCalendar,
    DayCount,
    analyse,
    build_schedule,
    year_fraction,
)

NO_HOLIDAYS = BusinessCalendar()


def sebi_bond(rate: str, frequency: int, issue: date, maturity: date, face: int = 100) -> BondTerms:
    return BondTerms(Decimal(rate), frequency, issue, maturity, Decimal(face), DayCount.ACT_ACT_SEBI)


def exactly(numerator: int | Decimal, denominator: int) -> Decimal:
    with localcontext(MATH_CONTEXT):
        return Decimal(numerator) / denominator


def same(left: Decimal | list[Decimal], right: Decimal | list[Decimal]) -> bool:
    """Equal to within 1e-30: the 34-digit context may round the last digit differently by another route."""
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    assert isinstance(left, Decimal) and isinstance(right, Decimal)
    return abs(left - right) <= Decimal("1e-30")


def test_accrued_interest_uses_366_basis_when_the_issue_year_contains_29_february() -> None:
    bond = sebi_bond("8", 1, date(2023, 3, 1), date(2026, 3, 1))
    # The first anniversary year, [1 Mar 2023, 1 Mar 2024), contains 29 Feb 2024: basis 366.
    # 1 Mar → 1 Sep 2023 = 31 + 30 + 31 + 30 + 31 + 31 = 184 days; 8 x 184 / 366 = 1472 / 366 per 100 face.
    analytics = analyse(bond, NO_HOLIDAYS, date(2023, 9, 1), ytm=Decimal("0.08"))

    assert analytics.accrued_days == 184
    assert same(analytics.accrued_interest, exactly(1472, 366))  # 4.02185792…


def test_accrued_interest_uses_365_basis_when_the_anniversary_year_has_no_29_february() -> None:
    bond = sebi_bond("8", 1, date(2023, 3, 1), date(2026, 3, 1))
    # [1 Mar 2024, 1 Mar 2025) has no 29 February: basis 365. Again 184 days to 1 Sep: 8 x 184 / 365.
    analytics = analyse(bond, NO_HOLIDAYS, date(2024, 9, 1), ytm=Decimal("0.08"))

    assert same(analytics.accrued_interest, exactly(1472, 365))  # 4.03287671…


def test_semi_annual_coupons_take_the_basis_of_their_anniversary_year_not_of_the_calendar_year() -> None:
    bond = sebi_bond("7.5", 2, date(2023, 6, 15), date(2025, 6, 15), face=1000)
    # Year [15 Jun 2023, 15 Jun 2024) contains 29 Feb 2024, so both its coupons use 366, including the first
    # (15 Jun → 15 Dec 2023, 183 days), which does not itself contain 29 February:
    #   1000 x 7.5% x 183 / 366 = 37.5 each.
    # Year [15 Jun 2024, 15 Jun 2025) has none: 183 days → 75 x 183 / 365 = 13725 / 365 = 37.60273972…,
    #   then 15 Dec 2024 → 15 Jun 2025 would be 182 days, but 15 Jun 2025 is a Sunday: the bond is redeemed
    #   on Friday 13 Jun and interest runs up to but excluding it (SEBI), 180 days → 75 x 180 / 365 = 36.98…
    amounts = [coupon.amount for coupon in build_schedule(bond, NO_HOLIDAYS).coupons]

    assert same(amounts, [Decimal("37.5"), Decimal("37.5"), exactly(13725, 365), exactly(13500, 365)])


def test_quarterly_coupons_in_a_leap_anniversary_year_divide_by_366_and_sum_to_the_annual_rate() -> None:
    bond = sebi_bond("9", 4, date(2027, 11, 30), date(2029, 11, 30))
    # Quarter dates from 30 Nov 2027: 29 Feb 2028 (30 Feb clamped), 30 May, 30 Aug, 30 Nov 2028.
    # Days: 31 + 31 + 29 = 91; 29 + 31 + 30 + 1 = 91; 92; 92 (together 366). Basis 366 for all four.
    # Then [30 Nov 2028, 28 Feb 2029) = 31 + 31 + 28 = 90 days in a 365-basis year.
    coupons = build_schedule(bond, NO_HOLIDAYS).coupons

    assert [c.accrual_end for c in coupons[:5]] == [
        date(2028, 2, 29),
        date(2028, 5, 30),
        date(2028, 8, 30),
        date(2028, 11, 30),
        date(2029, 2, 28),
    ]
    expected = [exactly(9 * 91, 366), exactly(9 * 91, 366), exactly(9 * 92, 366), exactly(9 * 92, 366)]
    assert same([c.amount for c in coupons[:5]], [*expected, exactly(9 * 90, 365)])
    with localcontext(MATH_CONTEXT):
        assert abs(sum(c.amount for c in coupons[:4]) - 9) < Decimal("1e-30")


def test_monthly_coupons_switch_to_366_basis_at_the_anniversary_before_29_february() -> None:
    bond = sebi_bond("7.2", 12, date(2023, 1, 31), date(2025, 1, 31))
    # Month ends from 31 Jan 2023: 28 Feb 2023 … 31 Dec 2023, 31 Jan 2024, 29 Feb 2024, 31 Mar 2024 …
    # Year [31 Jan 2023, 31 Jan 2024) has no 29 Feb: 31 Jan → 28 Feb 2023 is 28 days → 7.2 x 28 / 365;
    #   31 Dec 2023 → 31 Jan 2024 is 31 days → 7.2 x 31 / 365.
    # Year [31 Jan 2024, 31 Jan 2025) contains 29 Feb 2024: 29 days → 7.2 x 29 / 366, then 31 → 7.2 x 31 / 366.
    coupons = build_schedule(bond, NO_HOLIDAYS).coupons

    assert [c.accrual_end for c in coupons[11:14]] == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
    ]
    assert same(coupons[0].amount, exactly(Decimal("201.6"), 365))
    assert same(coupons[11].amount, exactly(Decimal("223.2"), 365))
    assert same(coupons[12].amount, exactly(Decimal("208.8"), 366))
    assert same(coupons[13].amount, exactly(Decimal("223.2"), 366))


def test_days_straddling_an_anniversary_are_split_between_the_two_years_bases() -> None:
    # Interpretation (daycount.py): a span crossing an anniversary is split. With the issue on 1 Mar 2023,
    # 1 Jan → 1 Mar 2024 (31 + 29 = 60 days) falls in [1 Mar 2023, 1 Mar 2024), basis 366, and
    # 1 Mar → 1 May 2024 (31 + 30 = 61 days) in [1 Mar 2024, 1 Mar 2025), basis 365.
    # (Coupon periods generated forward from the issue date never straddle an anniversary; arbitrary spans can.)
    fraction = year_fraction(DayCount.ACT_ACT_SEBI, date(2024, 1, 1), date(2024, 5, 1), date(2023, 3, 1))

    with localcontext(MATH_CONTEXT):
        assert same(fraction, Decimal(60) / 366 + Decimal(61) / 365)


def test_a_bond_issued_on_29_february_has_anniversaries_on_28_february_in_common_years() -> None:
    bond = sebi_bond("8", 1, date(2024, 2, 29), date(2028, 2, 29))
    # Anniversaries: 28 Feb 2025, 2026, 2027, then 29 Feb 2028 (always counted from the issue date).
    # [29 Feb 2024, 28 Feb 2025) contains 29 Feb 2024: 365 days / 366.  [28 Feb 2025, 28 Feb 2026): 365 / 365.
    # [28 Feb 2027, 29 Feb 2028) is 366 days, but 29 Feb 2028 is its (excluded) end: 366 / 365.
    coupons = build_schedule(bond, NO_HOLIDAYS).coupons

    assert [c.accrual_end for c in coupons] == [
        date(2025, 2, 28),
        date(2026, 2, 28),
        date(2027, 2, 28),
        date(2028, 2, 29),
    ]
    assert same(
        [c.amount for c in coupons], [exactly(8 * 365, 366), Decimal(8), Decimal(8), exactly(8 * 366, 365)]
    )


def test_an_annual_bond_settling_on_a_coupon_date_accrues_nothing_and_is_at_par_at_its_coupon_yield() -> None:
    bond = sebi_bond("8", 1, date(2024, 3, 1), date(2027, 3, 1))  # matures on a Monday, a business day
    # Every full anniversary year pays 8 (366/366 or 365/365), so at 8% each flow is discounted by 1.08 per
    # year: 8/1.08 + 108/1.08² = (8 x 1.08 + 108) / 1.1664 = 116.64 / 1.1664 = 100.
    analytics = analyse(bond, NO_HOLIDAYS, date(2025, 3, 1), ytm=Decimal("0.08"))

    assert analytics.accrued_interest == 0
    assert analytics.accrued_days == 0
    assert analytics.previous_coupon_date == date(2025, 3, 1)
    assert analytics.next_coupon_date == date(2026, 3, 1)
    assert abs(analytics.dirty_price - 100) < Decimal("1e-30")


def test_the_last_period_is_discounted_by_the_fraction_of_it_still_to_run() -> None:
    bond = sebi_bond("8", 1, date(2023, 3, 1), date(2025, 3, 1))
    # 1 Mar 2025 is a Saturday: redeemed Friday 28 Feb, interest up to but excluding it (SEBI), so the last
    # period [1 Mar 2024, 28 Feb 2025) pays 8 x 364 / 365 and its notional period is the 365 days to 1 Mar.
    # Settling 1 Sep 2024: 184 days accrued, 180 to run of the 365-day notional period.
    # dirty = (100 + 8 x 364/365) / 1.08^(180/365); accrued = 8 x 184 / 365; clean = dirty − accrued.
    analytics = analyse(bond, NO_HOLIDAYS, date(2024, 9, 1), ytm=Decimal("0.08"))

    with localcontext(MATH_CONTEXT):
        dirty = (100 + Decimal(8 * 364) / 365) / Decimal("1.08") ** (Decimal(180) / 365)
        assert same(analytics.dirty_price, dirty)
        assert same(analytics.clean_price, dirty - Decimal(1472) / 365)
        assert same(analytics.macaulay_duration, Decimal(180) / 365)
