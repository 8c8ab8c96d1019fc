"""The market's holiday calendar as data: an aggregate whose events add holidays (admins can add more).

Event class paths (`bondflow.domain.market_calendar:MarketCalendar.HolidayAdded`) are stored data.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.bonds import BusinessCalendar
from bondflow.domain.ids import derived_id

INDIA = "IN"


def calendar_id(market: str = INDIA) -> UUID:
    return derived_id("calendar", market)


class MarketCalendar(Aggregate):
    class Opened(Aggregate.Created):
        market: str
        actor_id: str
        request_id: str

    @event(Opened)
    def __init__(self, *, id: UUID, market: str, actor_id: str, request_id: str) -> None:
        self.market = market
        self.holidays: dict[date, str] = {}

    def add_holiday(self, *, day: date, name: str, actor_id: str, request_id: str) -> bool:
        """Adds the holiday; returns False (and records nothing) if the day is already a holiday."""
        if day in self.holidays:
            return False
        self._holiday_added(day=day, name=name, actor_id=actor_id, request_id=request_id)
        return True

    class HolidayAdded(Aggregate.Event):
        day: date
        name: str
        actor_id: str
        request_id: str

    @event(HolidayAdded)
    def _holiday_added(self, *, day: date, name: str, actor_id: str, request_id: str) -> None:
        self.holidays[day] = name

    def business_calendar(self) -> BusinessCalendar:
        return BusinessCalendar(frozenset(self.holidays))
