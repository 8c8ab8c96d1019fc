"""Analytics throughput for `make bench`: calls per second for a 30-year monthly bond, solving the yield."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

from bondflow.domain.bonds.analytics import analyse
from bondflow.domain.bonds.calendar import BusinessCalendar
from bondflow.domain.bonds.daycount import DayCount
from bondflow.domain.bonds.schedule import BondTerms

_BOND = BondTerms(
    coupon_rate=Decimal("7.45"),
    coupon_frequency=12,
    issue_date=date(2025, 1, 15),
    maturity_date=date(2055, 1, 15),
    face_value=Decimal(1000),
    day_count=DayCount.ACT_ACT_SEBI,
)
_SETTLEMENT = date(2025, 3, 3)
_CLEAN_PRICE = Decimal("98.7654")


def analytics_calls_per_second(seconds: float = 2.0) -> float:
    """How many full `analyse` calls (yield from a clean price, then risk) complete per second."""
    calendar = BusinessCalendar()
    calls = 0
    started = time.perf_counter()
    deadline = started + seconds
    while (now := time.perf_counter()) < deadline or calls == 0:
        analyse(_BOND, calendar, _SETTLEMENT, clean_price=_CLEAN_PRICE)
        calls += 1
    return calls / (now - started)
