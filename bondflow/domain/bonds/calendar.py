"""A business-day calendar as data: Saturdays and Sundays plus a set of listed holidays."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Weekends (Sat/Sun) and `holidays` are non-business days; everything else is a business day."""

    holidays: frozenset[date] = field(default_factory=frozenset)

    def with_holidays(self, *days: date | Iterable[date]) -> BusinessCalendar:
        """A new calendar with these holidays added (dates or iterables of dates); this one is unchanged."""
        added: set[date] = set()
        for item in days:
            if isinstance(item, date):
                added.add(item)
            else:
                added.update(item)
        return BusinessCalendar(self.holidays | added)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < _SATURDAY and day not in self.holidays

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after `day` (so T+1 settlement is `next_business_day(today)`)."""
        return self.add_business_days(day, 1)

    def previous_business_day(self, day: date) -> date:
        """The last business day strictly before `day`."""
        return self.add_business_days(day, -1)

    def following(self, day: date) -> date:
        """`day` if it is a business day, else the next one (how a coupon's payment date is adjusted)."""
        return day if self.is_business_day(day) else self.next_business_day(day)

    def preceding(self, day: date) -> date:
        """`day` if it is a business day, else the previous one (how a redemption date is adjusted)."""
        return day if self.is_business_day(day) else self.previous_business_day(day)

    def add_business_days(self, day: date, n: int) -> date:
        """Move `n` business days forward (n > 0) or back (n < 0); `n == 0` returns `day` unchanged."""
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        remaining = abs(n)
        while remaining:
            day += step
            if self.is_business_day(day):
                remaining -= 1
        return day
