"""Pure, exact bond mathematics: day counts, calendars, coupon schedules, price, yield and risk."""

from bondflow.domain.bonds.analytics import BondAnalytics, analyse, rounded_for_display
from bondflow.domain.bonds.arithmetic import MATH_CONTEXT, round_money, round_price, round_yield
from bondflow.domain.bonds.calendar import BusinessCalendar
from bondflow.domain.bonds.daycount import DayCount, day_count_days, year_fraction
from bondflow.domain.bonds.errors import BondMathError
from bondflow.domain.bonds.pricing import (
    RiskMeasures,
    SettlementPosition,
    dirty_price_from_yield,
    risk_measures,
    settlement_position,
    yield_from_dirty_price,
    ytm_annual_effective,
)
from bondflow.domain.bonds.schedule import BondSchedule, BondTerms, Coupon, build_schedule, schedule_dates

__all__ = [
    "MATH_CONTEXT",
    "BondAnalytics",
    "BondMathError",
    "BondSchedule",
    "BondTerms",
    "BusinessCalendar",
    "Coupon",
    "DayCount",
    "RiskMeasures",
    "SettlementPosition",
    "analyse",
    "build_schedule",
    "day_count_days",
    "dirty_price_from_yield",
    "risk_measures",
    "round_money",
    "round_price",
    "round_yield",
    "rounded_for_display",
    "schedule_dates",
    "settlement_position",
    "year_fraction",
    "yield_from_dirty_price",
    "ytm_annual_effective",
]
