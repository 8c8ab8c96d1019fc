"""Dates that decide eligibility (DOMAIN.md), in one place for pre-trade, execution, the coupon calendar and
the coupon job: the settlement date, a coupon's record date and window, and how long an order may wait.

- Settlement is T+1 business days. Tradability, the record-date window and maturity are judged on it.
- A coupon's record date is counted back `record_date_days` calendar days from its **payment** (adjusted)
  date, and is not itself moved to a business day (the holders of record are read from the log as of it).
  A trade settling in `[record date, payment date)` would pay accrued for a coupon the seller keeps, so it
  is refused; settling on the payment date itself is fine (the coupon went to the holder of record).
- *Interpretation* (orders are immediate-or-cancel): an accepted order may execute on its trade date or on
  the next business day at the latest; later it has expired. So the settlement dates it can reach are
  `settlement_date(T)` and `settlement_date(next business day after T)`, and a reservation bounded over
  both covers every execution the order may have.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from bondflow.domain.bonds import BusinessCalendar, Coupon

SETTLEMENT_LAG_BUSINESS_DAYS = 1
ORDER_LIFE_BUSINESS_DAYS = 1  # besides its trade date


def settlement_date(calendar: BusinessCalendar, trade_date: date) -> date:
    """T+1: the first business day after the trade date."""
    return calendar.add_business_days(trade_date, SETTLEMENT_LAG_BUSINESS_DAYS)


def last_execution_date(calendar: BusinessCalendar, trade_date: date) -> date:
    """The last day an order accepted on `trade_date` may execute; after it the order has expired."""
    return calendar.add_business_days(trade_date, ORDER_LIFE_BUSINESS_DAYS)


def reachable_settlement_dates(calendar: BusinessCalendar, trade_date: date) -> tuple[date, ...]:
    """Every settlement date an order accepted on `trade_date` can reach within its life."""
    execution_days = (calendar.add_business_days(trade_date, n) for n in range(ORDER_LIFE_BUSINESS_DAYS + 1))
    return tuple(settlement_date(calendar, day) for day in execution_days)


def record_date(payment_date: date, record_date_days: int) -> date:
    """A coupon's record date: `record_date_days` calendar days before its payment (adjusted) date."""
    return payment_date - timedelta(days=record_date_days)


def next_payment(coupons: Iterable[Coupon], after: date) -> Coupon | None:
    """The first coupon paid strictly after `after` (a settlement on a payment date looks at the next one)."""
    return next((coupon for coupon in coupons if coupon.payment_date > after), None)


def in_record_date_window(payment_date: date, record_date_days: int, settlement: date) -> bool:
    """Whether a trade settling on `settlement` falls in `[record date, payment date)` of that payment."""
    return record_date(payment_date, record_date_days) <= settlement < payment_date


@dataclass(frozen=True, slots=True)
class SettlementRefusal:
    rule: str  # "matured" or "record_date"
    message: str
    details: dict[str, str]


def settlement_refusal(
    settlement: date,
    *,
    maturity_date: date,
    redemption_payment_date: date,
    next_payment_date: date | None,
    record_date_days: int,
) -> SettlementRefusal | None:
    """Why a trade settling on `settlement` may not happen (redemption, maturity, record date), or None.
    `next_payment_date` is the payment date of the first coupon paid after `settlement`."""
    if settlement >= redemption_payment_date or settlement > maturity_date:
        return SettlementRefusal(
            "matured",
            "the trade would settle on or after the bond's redemption payment date",
            {"settlement_date": str(settlement), "redemption_payment_date": str(redemption_payment_date)},
        )
    if next_payment_date is not None and in_record_date_window(
        next_payment_date, record_date_days, settlement
    ):
        return SettlementRefusal(
            "record_date",
            "the trade would settle inside the record-date window before a coupon",
            {
                "settlement_date": str(settlement),
                "record_date": str(record_date(next_payment_date, record_date_days)),
                "coupon_date": str(next_payment_date),
            },
        )
    return None
