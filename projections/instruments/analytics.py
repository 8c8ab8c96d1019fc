"""Server-side bond analytics for the query API, memoised per (terms, calendar, date, price or yield)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from bondflow.domain.bonds import (
    BondAnalytics,
    BondMathError,
    BondTerms,
    BusinessCalendar,
    analyse,
    rounded_for_display,
)
from bondflow.errors import InvalidRequest


@lru_cache(maxsize=8192)
def exact_figures(
    terms: BondTerms, calendar: BusinessCalendar, settlement: date, clean_price: Decimal
) -> BondAnalytics:
    """Unrounded analytics at a clean price, memoised per (instrument terms, calendar, date, price)."""
    return analyse(terms, calendar, settlement, clean_price=clean_price)


@lru_cache(maxsize=8192)
def _analyse(
    terms: BondTerms,
    calendar: BusinessCalendar,
    settlement: date,
    clean_price: Decimal | None,
    ytm: Decimal | None,
) -> dict[str, Any]:
    return asdict(rounded_for_display(analyse(terms, calendar, settlement, clean_price=clean_price, ytm=ytm)))


def bond_analytics(
    terms: BondTerms,
    calendar: BusinessCalendar,
    settlement: date,
    *,
    clean_price: Decimal | None = None,
    ytm: Decimal | None = None,
) -> dict[str, Any]:
    """Rounded analytics per 100 face; a refusal of the maths becomes `400 BF-REQ-001` naming the field."""
    try:
        return dict(_analyse(terms, calendar, settlement, clean_price, ytm))
    except BondMathError as exc:
        raise InvalidRequest(f"{exc.field}: {exc.message}", {"fields": {exc.field: exc.message}}) from exc
