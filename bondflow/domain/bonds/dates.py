"""Calendar arithmetic the schedule and day counts share: adding months without end-of-month rolling."""

from __future__ import annotations

import calendar
from datetime import date


def add_months(start: date, months: int) -> date:
    """`start` moved by whole months, keeping its day of month clamped to the target month's length.

    31 Jan + 1 month is 28 (or 29) Feb, + 2 months is 31 Mar: dates are always counted from the same
    anchor, never from the previous (clamped) result, so a schedule does not drift after February.
    """
    month_index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(month_index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last_day))


def contains_29_february(start: date, end: date) -> bool:
    """Whether a 29 February falls in the half-open interval [start, end)."""
    for year in range(start.year, end.year + 1):
        if calendar.isleap(year) and start <= date(year, 2, 29) < end:
            return True
    return False
