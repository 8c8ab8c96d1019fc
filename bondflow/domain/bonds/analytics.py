"""Bond analytics at a settlement date from a clean price or a yield, and their rounding for display.

Units: every price-like figure is per 100 of face value; yields are decimal fractions compounded at the
coupon frequency (Decimal("0.0725") is 7.25%); durations are in years and convexity in years². Figures are
unrounded (34 significant digits); `rounded_for_display` is the one place they are rounded, for responses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, localcontext

from bondflow.domain.bonds.arithmetic import MATH_CONTEXT, round_price, round_yield
from bondflow.domain.bonds.calendar import BusinessCalendar
from bondflow.domain.bonds.errors import BondMathError
from bondflow.domain.bonds.pricing import (
    dirty_price_from_yield,
    risk_measures,
    settlement_position,
    validate_yield,
    yield_from_dirty_price,
    ytm_annual_effective,
)
from bondflow.domain.bonds.schedule import BondTerms, build_schedule, require_decimal


@dataclass(frozen=True, slots=True)
class BondAnalytics:
    """Price, yield and risk of a bond at a settlement date, per 100 face (see the module docstring)."""

    accrued_interest: Decimal
    accrued_days: int
    dirty_price: Decimal
    clean_price: Decimal
    ytm: Decimal
    ytm_annual_effective: Decimal
    macaulay_duration: Decimal
    modified_duration: Decimal
    convexity: Decimal
    pv01: Decimal
    previous_coupon_date: date  # start of the current accrual period: the issue date in the first period
    next_coupon_date: date  # end of the current accrual period, unadjusted (the payment may be later)


def analyse(
    terms: BondTerms,
    calendar: BusinessCalendar,
    settlement_date: date,
    *,
    clean_price: Decimal | None = None,
    ytm: Decimal | None = None,
) -> BondAnalytics:
    """Analytics of `terms` settling on `settlement_date`, given exactly one of `clean_price` or `ytm`.

    The calendar only moves payment dates; accrual and discounting follow the unadjusted schedule.
    """
    if (clean_price is None) == (ytm is None):
        raise BondMathError("clean_price", "give exactly one of clean_price or ytm")
    position = settlement_position(terms, build_schedule(terms, calendar), settlement_date)
    accrued = position.accrued_interest
    with localcontext(MATH_CONTEXT):
        if clean_price is not None:
            clean = require_decimal(clean_price, "clean_price")
            if clean <= 0:
                raise BondMathError("clean_price", "must be positive")
            dirty = clean + accrued
            solved = yield_from_dirty_price(position, dirty)
        else:
            solved = validate_yield(ytm)
            dirty = dirty_price_from_yield(position, solved)
            clean = dirty - accrued
        risk = risk_measures(position, solved, "clean_price" if clean_price is not None else "ytm")
        return BondAnalytics(
            accrued_interest=accrued,
            accrued_days=position.accrued_days,
            dirty_price=dirty,
            clean_price=clean,
            ytm=solved,
            ytm_annual_effective=ytm_annual_effective(solved, terms.coupon_frequency),
            macaulay_duration=risk.macaulay_duration,
            modified_duration=risk.modified_duration,
            convexity=risk.convexity,
            pv01=risk.pv01,
            previous_coupon_date=position.previous_coupon_date,
            next_coupon_date=position.next_coupon_date,
        )


def rounded_for_display(analytics: BondAnalytics) -> BondAnalytics:
    """The figures as responses show them, rounded half up once, here: prices, accrued interest,
    durations and convexity to 4 places; yields (decimal fractions, so 0.01 bp) and PV01 to 6 places.
    Money amounts (coupons, considerations) are rounded to the paisa with `round_money`."""
    return replace(
        analytics,
        accrued_interest=round_price(analytics.accrued_interest),
        dirty_price=round_price(analytics.dirty_price),
        clean_price=round_price(analytics.clean_price),
        ytm=round_yield(analytics.ytm),
        ytm_annual_effective=round_yield(analytics.ytm_annual_effective),
        macaulay_duration=round_price(analytics.macaulay_duration),
        modified_duration=round_price(analytics.modified_duration),
        convexity=round_price(analytics.convexity),
        pv01=round_yield(analytics.pv01),
    )
