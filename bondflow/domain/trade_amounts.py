"""What a trade costs, rounded the way the ledger rounds money, and the reservation that bounds it.

- A trade's gross is `qty × face × (clean + accrued) / 100` and its fee `gross × fee_bps / 10000`; each
  is rounded half-up to the paisa once (DOMAIN.md "The ledger"); the consideration is their sum.
- An order's fills are rounded on its running total: fill k gets `round(total of fills 1..k) −
  round(total of fills 1..k−1)`, so the fills of an order always add up to the order's total rounded once,
  however the order is split (one fill alone is rounded exactly as an order of its size).
- A BUY reserves the consideration of its whole quantity at its price cap and at the *most* accrued
  interest of any settlement date it can reach (`reservation_accrued`): the fills' prices are at most the
  cap, their accrued at most that, their quantities at most the order's, and rounding is monotone, so the
  fills of any execution within the order's life sum to at most the reservation. The unused part is
  released when the order executes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bondflow.domain.bonds import (
    BondTerms,
    BusinessCalendar,
    build_schedule,
    round_money,
    settlement_position,
)
from bondflow.domain.eligibility import reachable_settlement_dates

HUNDRED = Decimal(100)
BASIS_POINTS = Decimal(10000)
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class TradeAmounts:
    gross: Decimal  # to the paisa
    fees: Decimal  # to the paisa

    @property
    def consideration(self) -> Decimal:
        return self.gross + self.fees


def exact_gross(qty: Decimal, face_value: Decimal, clean_price: Decimal, accrued_per_100: Decimal) -> Decimal:
    return qty * face_value * (clean_price + accrued_per_100) / HUNDRED


def trade_amounts(
    qty: Decimal, face_value: Decimal, clean_price: Decimal, accrued_per_100: Decimal, fee_bps: Decimal
) -> TradeAmounts:
    """Gross and fee of one trade (or of a whole order), each rounded half-up to the paisa."""
    gross = exact_gross(qty, face_value, clean_price, accrued_per_100)
    return TradeAmounts(round_money(gross), round_money(gross * fee_bps / BASIS_POINTS))


class FillAllocator:
    """Rounds an order's fills on its running total, so that they add up to the total rounded once."""

    def __init__(self, face_value: Decimal, fee_bps: Decimal) -> None:
        self.face_value = face_value
        self.fee_bps = fee_bps
        self._exact_gross = ZERO
        self._allocated = TradeAmounts(ZERO, ZERO)

    @property
    def allocated(self) -> TradeAmounts:
        """What the fills allocated so far add up to."""
        return self._allocated

    def total_with(self, qty: Decimal, clean_price: Decimal, accrued_per_100: Decimal) -> TradeAmounts:
        """What the fills would add up to with one more fill of `qty` at this price (nothing is recorded)."""
        gross = self._exact_gross + exact_gross(qty, self.face_value, clean_price, accrued_per_100)
        return TradeAmounts(round_money(gross), round_money(gross * self.fee_bps / BASIS_POINTS))

    def allocate(self, qty: Decimal, clean_price: Decimal, accrued_per_100: Decimal) -> TradeAmounts:
        """The amounts of the next fill: the rounded running total minus what earlier fills were given."""
        total = self.total_with(qty, clean_price, accrued_per_100)
        self._exact_gross += exact_gross(qty, self.face_value, clean_price, accrued_per_100)
        fill = TradeAmounts(total.gross - self._allocated.gross, total.fees - self._allocated.fees)
        self._allocated = total
        return fill


def accrued_at(terms: BondTerms, calendar: BusinessCalendar, settlement: date) -> Decimal:
    """Accrued interest per 100 face for settlement on `settlement`; zero before issue or once it stopped."""
    schedule = build_schedule(terms, calendar)
    if not terms.issue_date <= settlement < schedule.interest_end_date:
        return ZERO
    return settlement_position(terms, schedule, settlement).accrued_interest


def reservation_accrued(terms: BondTerms, calendar: BusinessCalendar, trade_date: date) -> Decimal:
    """The most accrued interest per 100 face at any settlement date an order accepted on `trade_date` can
    reach within its life (accrued is not monotone: it falls back to zero on a coupon date)."""
    return max(accrued_at(terms, calendar, day) for day in reachable_settlement_dates(calendar, trade_date))
