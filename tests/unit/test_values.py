"""Value types: ISIN check digits and exact decimals, validated once at the edge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bondflow.domain.values import CleanPrice, Isin, Quantity, exact_decimal, isin_check_digit_ok
from bondflow.errors import InvalidOrder, InvalidRequest


@pytest.mark.parametrize("isin", ["INE123A07043", "US0378331005", "INE002A08518", "IN0020200153"])
def test_valid_isins_pass_the_iso_6166_check(isin: str) -> None:
    assert isin_check_digit_ok(isin)
    assert Isin.parse(isin).value == isin


def test_the_briefs_example_isin_fails_its_check_digit_and_names_the_field() -> None:
    with pytest.raises(InvalidOrder) as caught:
        Isin.parse("INE123A07045", refusal=InvalidOrder)
    assert caught.value.details == {"fields": {"isin": "check digit does not match (ISO 6166)"}}


@pytest.mark.parametrize("raw", [1, 10, "12.345678", Decimal("0.000001"), "1e3"])
def test_quantities_keep_every_digit(raw: object) -> None:
    assert Quantity.parse(raw).value == Decimal(str(raw))


@pytest.mark.parametrize("raw", [0.1, True, None, "1,000", "nan", "Infinity", "1e99", [], "١"])
def test_floats_bools_and_non_decimals_are_refused_as_malformed(raw: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        Quantity.parse(raw)
    assert type(caught.value) is InvalidRequest


@pytest.mark.parametrize(("raw", "message"), [("0", "greater than 0"), ("1.0000001", "6 decimal places")])
def test_rule_breaking_quantities_are_order_parameter_errors(raw: str, message: str) -> None:
    with pytest.raises(InvalidOrder, match=message):
        Quantity.parse(raw, refusal=InvalidOrder)


def test_clean_prices_allow_four_places_and_no_more() -> None:
    assert CleanPrice.parse("99.1234").value == Decimal("99.1234")
    with pytest.raises(InvalidRequest, match="4 decimal places"):
        CleanPrice.parse("99.12345")


def test_exact_decimal_parses_exponent_forms_exactly() -> None:
    assert exact_decimal("1.5e2", "x") == Decimal("150")
    assert exact_decimal(Decimal("0.1"), "x") + exact_decimal(Decimal("0.2"), "x") == Decimal("0.3")
