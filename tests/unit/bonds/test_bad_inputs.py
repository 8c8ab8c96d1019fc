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
        ("clean_price", date(2025, 1, 1), {"clean_price": Decimal("1e-9")}),  # a yield above 1,000,000%
        ("clean_price", date(2025, 1, 1), {"clean_price": Decimal("1e9")}),  # a yield at or below −100%
        ("clean_price", date(2025, 1, 1), {}),
        ("clean_price", date(2025, 1, 1), {"clean_price": Decimal(99), "ytm": Decimal("0.07")}),
        ("ytm", date(2025, 1, 1), {"ytm": Decimal(-1)}),
        ("ytm", date(2025, 1, 1), {"ytm": Decimal("-1.5")}),
        ("ytm", date(2025, 1, 1), {"ytm": Decimal("Infinity")}),
        ("ytm", date(2025, 1, 1), {"ytm": 0.07}),
    ],
)
def test_bad_analytics_inputs_are_refused_naming_the_field(field: str, settlement: date, inputs: dict[str, Any]) -> None:
    with pytest.raises(BondMathError) as refused:
        analyse(terms(), NO_HOLIDAYS, settlement, **inputs)

    assert refused.value.field == field
    assert str(refused.value).startswith(f"{field}: ")


def test_an_annual_bond_at_an_enormous_price_solves_to_a_yield_just_above_minus_100_percent() -> None:
    annual = terms(coupon_frequency=1)

    analytics = analyse(annual, NO_HOLIDAYS, date(2025, 7, 1), clean_price=Decimal("1e6"))

    assert Decimal(-1) < analytics.ytm < Decimal("-0.99")
    assert abs(analytics.clean_price - Decimal("1e6")) < Decimal("1e-20")
    assert abs(analyse(annual, NO_HOLIDAYS, date(2025, 7, 1), ytm=analytics.ytm).clean_price - Decimal("1e6")) < Decimal("1e-8")
