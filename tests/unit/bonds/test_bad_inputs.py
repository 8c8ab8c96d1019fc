"""Absurd inputs are refused with a BondMathError naming the offending field."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from bondflow.domain.bonds import BondMathError, BondTerms, BusinessCalendar, DayCount, analyse

NO_HOLIDAYS = BusinessCalendar()
GOOD_TERMS: dict[str, Any] = {
    "coupon_rate": Decimal("7.5"),
    "coupon_frequency": 2,
    "issue_date": date(2024, 1, 15),
    "maturity_date": date(2034, 1, 15),
    "face_value": Decimal(1000),
    "day_count": DayCount.THIRTY_E_360,
}


def terms(**changes: Any) -> BondTerms:
    return BondTerms(**{**GOOD_TERMS, **changes})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("coupon_frequency", 3),
        ("coupon_frequency", 0),
        ("coupon_frequency", 365),
        ("coupon_frequency", True),
        ("coupon_rate", Decimal("-0.5")),
        ("coupon_rate", Decimal("250")),
        ("coupon_rate", Decimal("NaN")),
        ("coupon_rate", 7.5),
        ("face_value", Decimal(0)),
        ("face_value", Decimal(-100)),
        ("issue_date", datetime(2024, 1, 15, 10, 30)),
        ("maturity_date", date(2024, 1, 15)),
        ("maturity_date", date(2023, 1, 15)),
        ("maturity_date", date(2150, 1, 15)),
        ("day_count", "ACT/360"),
    ],
)
def test_absurd_bond_terms_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(BondMathError) as refused:
        terms(**{field: value})

    assert refused.value.field == field


def test_a_day_count_given_by_its_name_is_accepted() -> None:
    assert terms(day_count="ACT/ACT-SEBI").day_count is DayCount.ACT_ACT_SEBI


@pytest.mark.parametrize(
    ("field", "settlement", "inputs"),
    [
        ("settlement_date", date(2024, 1, 14), {"ytm": Decimal("0.07")}),
        ("settlement_date", date(2034, 1, 15), {"ytm": Decimal("0.07")}),
        ("settlement_date", date(2034, 6, 1), {"ytm": Decimal("0.07")}),
        ("settlement_date", datetime(2025, 1, 1, 9, 0), {"ytm": Decimal("0.07")}),
        ("clean_price", date(2025, 1, 1), {"clean_price": Decimal(0)}),
        ("clean_price", date(2025, 1, 1), {"clean_price": Decimal("-98.5")}),
        ("clean_price", date(2025, 1, 1), {"clean_price": 98.5}),
        ("clean_price", date(2025, 1, 15), {"clean_price": Decimal("1e-9")}),  # a yield above 1,000,000%
        ("clean_price", date(2025, 1, 1), {"clean_price": Decimal("1e9")}),  # a yield at or below −100%
        ("clean_price", date(2025, 1, 1), {}),
        ("clean_price", date(2025, 1, 1), {"clean_price": Decimal(99), "ytm": Decimal("0.07")}),
        ("ytm", date(2025, 1, 1), {"ytm": Decimal(-1)}),
        ("ytm", date(2025, 1, 1), {"ytm": Decimal("-1.5")}),
        ("ytm", date(2025, 1, 1), {"ytm": Decimal("Infinity")}),
        ("ytm", date(2025, 1, 1), {"ytm": 0.07}),
    ],
)
def test_bad_analytics_inputs_are_refused_naming_the_field(
    field: str, settlement: date, inputs: dict[str, Any]
) -> None:
    with pytest.raises(BondMathError) as refused:
        analyse(terms(), NO_HOLIDAYS, settlement, **inputs)

    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


def test_an_annual_bond_at_an_enormous_price_solves_to_a_yield_just_above_minus_100_percent() -> None:
    annual = terms(coupon_frequency=1)
    # One year left on a coupon date: 107.5 x v = 1e6, v = 1/(1 + y) = 9302.3…, y = 1/v − 1 ≈ −0.999892
    analytics = analyse(annual, NO_HOLIDAYS, date(2033, 1, 15), clean_price=Decimal("1e6"))

    assert Decimal("-0.9999") < analytics.ytm < Decimal("-0.9998")
    repriced = analyse(annual, NO_HOLIDAYS, date(2033, 1, 15), ytm=analytics.ytm)
    assert abs(repriced.clean_price - Decimal("1e6")) < Decimal("1e-8")


def test_a_price_implying_a_yield_indistinguishable_from_minus_100_percent_is_refused() -> None:
    # One month left: 107.5 x v^(31/365) = 1e6 needs v ≈ 1e47, so 1 + y ≈ 1e-47: −100% to 34 digits.
    with pytest.raises(BondMathError) as refused:
        analyse(terms(coupon_frequency=1), NO_HOLIDAYS, date(2033, 12, 15), clean_price=Decimal("1e6"))

    assert refused.value.field == "clean_price"


def test_a_pv01_that_would_need_a_yield_below_minus_100_percent_is_refused_naming_the_input() -> None:
    annual = terms(coupon_frequency=1)

    with pytest.raises(BondMathError) as from_yield:
        analyse(annual, NO_HOLIDAYS, date(2033, 1, 15), ytm=Decimal("-0.99995"))
    # one year left on a coupon date: 107.5 / (1 − 0.99995) = 2,150,000 implies that yield
    with pytest.raises(BondMathError) as from_price:
        analyse(annual, NO_HOLIDAYS, date(2033, 1, 15), clean_price=Decimal(2_150_000))

    assert (from_yield.value.field, from_price.value.field) == ("ytm", "clean_price")
