"""The one injected clock: deadlines, business dates and token expiry all read it, so tests can move time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, replays), or by `tick` at every reading so that
    successive events keep their order in time."""

    def __init__(self, start: datetime, tick: timedelta = timedelta(0)) -> None:
        self._now = start
        self._tick = tick

    def now(self) -> datetime:
        current = self._now
        self._now += self._tick
        return current

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def business_date(clock: Clock) -> date:
    """Today's date in India, where the market is."""
    return clock.now().astimezone(IST).date()


class OffsetClock:
    """Real time shifted to start at `start`: a sandbox or demo can run on a chosen trading day."""

    def __init__(self, start: datetime, *, anchored_at: datetime | None = None) -> None:
        self._offset = start - (anchored_at or datetime.now(UTC))

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


def record_events_with(clock: Clock) -> None:
    """Stamp recorded events with the injected clock instead of the library's wall clock, so that an
    event's recorded time and the business times it carries agree (ARCHITECTURE §5: time is injected).
    Process-wide, like the library hook it sets; the composition root calls it once."""
    from eventsourcing.domain import CanCreateTimestamp

    CanCreateTimestamp.create_timestamp = staticmethod(clock.now)  # type: ignore[method-assign]
