"""Day-count conventions: days between two dates and the year fraction interest accrues over.

`ACT/ACT-SEBI` (SEBI circular of 11 Nov 2016, DOMAIN.md): interest = face x rate x actual days / basis,
basis 366 if the one-year period in which the days fall contains 29 February, else 365, whatever the
coupon frequency.

*Interpretation* (the only place it lives): the one-year periods run from an anniversary of the issue
date to the next (anniversaries are `issue + 12k months`, clamped to the month's length, so a bond issued
on 29 Feb has anniversaries on 28 Feb in common years); a period "contains 29 February" when a 29 Feb falls
in its half-open span [anniversary, next anniversary). Days are the half-open span [start, end) of the
accrual; when those days straddle an anniversary they are split, and each part is divided by the basis of
its own one-year period: `Σ days_i / basis_i`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from bondflow.domain.bonds.arithmetic import MATH_CONTEXT
from bondflow.domain.bonds.dates import add_months, contains_29_february


class DayCount(StrEnum):
    ACT_ACT_SEBI = "ACT/ACT-SEBI"
    THIRTY_E_360 = "30E/360"
    ACT_365F = "ACT/365F"


_360 = Decimal(360)
_365 = Decimal(365)


def thirty_e_360_days(start: date, end: date) -> int:
    """30E/360 (Eurobond basis, QuantLib `Thirty360.European`): both day-of-months capped at 30."""
    return (
        360 * (end.year - start.year)
        + 30 * (end.month - start.month)
        + (min(end.day, 30) - min(start.day, 30))
    )


def day_count_days(convention: DayCount, start: date, end: date) -> int:
    """Days from `start` to `end` as the convention counts them (30E/360 days or actual days)."""
    if convention is DayCount.THIRTY_E_360:
        return thirty_e_360_days(start, end)
    return (end - start).days


def _anniversary_year_containing(day: date, issue_date: date) -> tuple[date, date]:
    """The one-year period [anniversary, next anniversary) of the issue date that contains `day`."""
    k = day.year - issue_date.year
    while add_months(issue_date, 12 * k) > day:
        k -= 1
    while add_months(issue_date, 12 * (k + 1)) <= day:
        k += 1
    return add_months(issue_date, 12 * k), add_months(issue_date, 12 * (k + 1))


def sebi_year_fraction(start: date, end: date, issue_date: date) -> Decimal:
    """ACT/ACT-SEBI: actual days over [start, end), each divided by its own anniversary year's basis."""
    total = Decimal(0)
    cursor = start
    while cursor < end:
        year_start, year_end = _anniversary_year_containing(cursor, issue_date)
        part_end = min(end, year_end)
        basis = 366 if contains_29_february(year_start, year_end) else 365
        total = MATH_CONTEXT.add(total, MATH_CONTEXT.divide(Decimal((part_end - cursor).days), basis))
        cursor = part_end
    return total


def year_fraction(convention: DayCount, start: date, end: date, issue_date: date) -> Decimal:
    """The fraction of a year interest accrues over from `start` to `end` (`issue_date` anchors SEBI)."""
    if convention is DayCount.ACT_ACT_SEBI:
        return sebi_year_fraction(start, end, issue_date)
    if convention is DayCount.THIRTY_E_360:
        return MATH_CONTEXT.divide(Decimal(thirty_e_360_days(start, end)), _360)
    return MATH_CONTEXT.divide(Decimal((end - start).days), _365)
