"""Price, yield and risk worked out by hand from DOMAIN.md's formula, and their rounding for display."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, localcontext

import pytest

from bondflow.domain.bonds import (
    MATH_CONTEXT,
    BondMathError,
    BondTerms,
    BusinessCalendar,
    DayCount,
    analyse,
    round_money,
    rounded_for_display,
)

NO_HOLIDAYS = BusinessCalendar()
TINY = Decimal("1e-28")


def test_a_30e_360_bond_is_priced_with_the_fraction_of_the_period_still_to_run() -> None:
    bond = BondTerms(
        Decimal("6"), 2, date(2020, 1, 15), date(2021, 7, 15), Decimal(100), DayCount.THIRTY_E_360
    )
    # 15 Jan → 15 Mar 2020 is 60 days in 30E/360 of a 180-day period: accrued 6 x 60/360 = 1, w = 120/180.
    # Flows 3, 3 and 103 at 2/3, 5/3 and 8/3 periods; at 6% each period discounts by 1.03.
    analytics = analyse(bond, NO_HOLIDAYS, date(2020, 3, 15), ytm=Decimal("0.06"))

    with localcontext(MATH_CONTEXT):
        u = Decimal("1.03")
        third = Decimal(1) / 3
        dirty = 3 / u ** (2 * third) + 3 / u ** (5 * third) + 103 / u ** (8 * third)
        weighted = 2 * third * 3 / u ** (2 * third) + 5 * third * 3 / u ** (5 * third)
        macaulay = (weighted + 8 * third * 103 / u ** (8 * third)) / (2 * dirty)
        clean = dirty - 1
        modified = macaulay / u
    assert analytics.accrued_days == 60
    assert analytics.accrued_interest == 1
    assert abs(analytics.dirty_price - dirty) < TINY
    assert abs(analytics.clean_price - clean) < TINY
    assert abs(analytics.macaulay_duration - macaulay) < TINY
    assert abs(analytics.modified_duration - modified) < TINY
    assert (analytics.previous_coupon_date, analytics.next_coupon_date) == (
        date(2020, 1, 15),
        date(2020, 7, 15),
    )


def test_a_zero_coupon_bond_has_its_tenor_as_macaulay_duration_and_closed_form_convexity_and_pv01() -> None:
    bond = BondTerms(Decimal("0"), 1, date(2020, 6, 1), date(2025, 6, 1), Decimal(100), DayCount.ACT_365F)
    # At issue, 5 whole periods remain: P = 100 / 1.07^5, D_mac = 5, D_mod = 5 / 1.07,
    # convexity = 5 x 6 / 1.07², PV01 = 100 / 1.0699^5 − 100 / 1.07^5.
    analytics = analyse(bond, NO_HOLIDAYS, date(2020, 6, 1), ytm=Decimal("0.07"))

    with localcontext(MATH_CONTEXT):
        assert abs(analytics.dirty_price - 100 / Decimal("1.07") ** 5) < TINY
        assert abs(analytics.macaulay_duration - 5) < TINY
        assert abs(analytics.modified_duration - 5 / Decimal("1.07")) < TINY
        assert abs(analytics.convexity - 30 / Decimal("1.07") ** 2) < TINY
        assert abs(analytics.pv01 - (100 / Decimal("1.0699") ** 5 - 100 / Decimal("1.07") ** 5)) < TINY
    assert analytics.pv01 > 0  # the price rises when the yield falls


def test_the_annual_effective_yield_compounds_the_periodic_yield_over_a_year() -> None:
    bond = BondTerms(Decimal("8"), 2, date(2024, 1, 1), date(2029, 1, 1), Decimal(100), DayCount.ACT_ACT_SEBI)
    # (1 + 0.08/2)² − 1 = 1.0816 − 1
    analytics = analyse(bond, NO_HOLIDAYS, date(2024, 1, 1), ytm=Decimal("0.08"))

    assert analytics.ytm_annual_effective == Decimal("0.0816")


def test_a_30e_360_month_end_period_counts_one_whole_period_whatever_its_30e_360_length() -> None:
    # DOMAIN.md counts each regular period as one (k − 1 + w). 31 Aug 2023 → 29 Feb 2024 is 179 days in
    # 30E/360 (QuantLib would count 179/180 of a half-year here; see test_quantlib_differential.py).
    bond = BondTerms(
        Decimal("6"), 2, date(2023, 8, 31), date(2024, 8, 31), Decimal(100), DayCount.THIRTY_E_360
    )
    # Coupons by 30E/360: 6 x 179/360 and 6 x 181/360 (29 Feb → 30 Aug: 180 + 1).
    analytics = analyse(bond, NO_HOLIDAYS, date(2023, 8, 31), ytm=Decimal("0.06"))

    with localcontext(MATH_CONTEXT):
        expected = (
            Decimal(6 * 179) / 360 / Decimal("1.03") + (100 + Decimal(6 * 181) / 360) / Decimal("1.03") ** 2
        )
    assert abs(analytics.dirty_price - expected) < TINY


def test_settlement_on_a_coupon_date_gives_that_coupon_to_the_seller_and_accrues_nothing() -> None:
    bond = BondTerms(
        Decimal("6"), 2, date(2020, 1, 15), date(2021, 7, 15), Decimal(100), DayCount.THIRTY_E_360
    )
    # On 15 Jul 2020 the first coupon is paid to the seller: 3 and 103 remain, one and two periods away.
    analytics = analyse(bond, NO_HOLIDAYS, date(2020, 7, 15), ytm=Decimal("0.06"))

    with localcontext(MATH_CONTEXT):
        expected = 3 / Decimal("1.03") + 103 / Decimal("1.03") ** 2
    assert analytics.accrued_interest == 0
    assert abs(analytics.dirty_price - expected) < TINY
    assert analytics.previous_coupon_date == date(2020, 7, 15)


def test_display_rounds_prices_to_4_places_yields_to_6_and_money_to_the_paisa_half_up() -> None:
    bond = BondTerms(Decimal("7.35"), 2, date(2021, 3, 17), date(2031, 7, 5), Decimal(100), DayCount.ACT_365F)
    exact = analyse(bond, NO_HOLIDAYS, date(2024, 5, 29), clean_price=Decimal("97.5"))

    shown = rounded_for_display(exact)

    assert shown.accrued_interest == Decimal("1.4700")  # 7.35 x 73/365 = 1.47
    assert shown.clean_price == Decimal("97.5000")
    assert shown.dirty_price == Decimal("98.9700")
    assert shown.ytm == exact.ytm.quantize(Decimal("0.000001"))
    assert shown.ytm.as_tuple().exponent == -6
    assert shown.macaulay_duration.as_tuple().exponent == -4
    assert shown.pv01.as_tuple().exponent == -6
    assert (shown.accrued_days, shown.next_coupon_date) == (exact.accrued_days, exact.next_coupon_date)
    assert round_money(Decimal("1234.565")) == Decimal("1234.57")
    assert round_money(Decimal("1234.5649")) == Decimal("1234.56")


def test_a_sebi_bond_maturing_on_a_holiday_accrues_and_discounts_to_its_earlier_payment_date() -> None:
    bond = BondTerms(
        Decimal("9"), 4, date(2027, 11, 30), date(2029, 11, 30), Decimal(100), DayCount.ACT_ACT_SEBI
    )
    holiday = NO_HOLIDAYS.with_holidays(date(2029, 11, 30))  # redeemed Thursday 29 Nov with the last coupon
    # settling 28 Nov: 90 days accrued of the 91 that are paid; the one flow (100 + 9 x 91/365) is one day
    # away, measured against the 92-day notional period 30 Aug - 30 Nov.
    analytics = analyse(bond, holiday, date(2029, 11, 28), ytm=Decimal("0.08"))

    with localcontext(MATH_CONTEXT):
        dirty = (100 + Decimal(9 * 91) / 365) / (1 + Decimal("0.02")) ** (Decimal(1) / 92)
        assert analytics.accrued_interest == Decimal(9 * 90) / 365
        assert abs(analytics.dirty_price - dirty) < TINY
    assert analytics.next_coupon_date == date(2029, 11, 29)
    with pytest.raises(BondMathError) as refused:
        analyse(bond, holiday, date(2029, 11, 29), ytm=Decimal("0.08"))
    assert refused.value.field == "settlement_date"
    assert "redemption payment date 2029-11-29" in str(refused.value)
