"""Amortising bonds: a redemption schedule that repays principal in steps, reducing the face per unit.

A redemption schedule is a tuple of `PartialRedemption(on, principal_per_unit)` on coupon dates strictly
before maturity; whatever face is still outstanding is redeemed at maturity. Each coupon accrues on the
face outstanding at the start of its period (QuantLib's `AmortizingFixedRateBond` with one notional per
period, the test oracle), so a period's coupon is the bullet bond's coupon scaled by outstanding / face.
Payment dates follow the coupon rule (DOMAIN.md): a partial redemption is paid with the coupon of its date
(next business day), the final one on the redemption payment date (previous business day). A holiday moves
the payment, never the amount. An empty schedule is the ordinary bullet bond.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bondflow.domain.bonds.arithmetic import MATH_CONTEXT
from bondflow.domain.bonds.calendar import BusinessCalendar
from bondflow.domain.bonds.errors import BondMathError
from bondflow.domain.bonds.schedule import (
    BondTerms,
    build_schedule,
    require_date,
    require_decimal,
    schedule_dates,
)

COUPON = "coupon"
_PAISE = Decimal("0.01")
REDEMPTION = "redemption"


@dataclass(frozen=True, slots=True)
class PartialRedemption:
    """`principal_per_unit` INR of each unit's face repaid on the (unadjusted) coupon date `on`."""

    on: date
    principal_per_unit: Decimal


@dataclass(frozen=True, slots=True)
class CashFlow:
    """One payment per unit: a coupon (for the period ending `scheduled_on`) or a principal repayment."""

    kind: str  # COUPON or REDEMPTION
    scheduled_on: date  # the unadjusted schedule date (coupon date or maturity): the action's identity
    payment_date: date  # adjusted on the business calendar
    amount_per_unit: Decimal  # exact (unrounded) INR per unit
    face_before: Decimal  # face per unit outstanding during the period (coupon) or before the repayment
    accrual_start: date | None = None

    @property
    def face_after(self) -> Decimal:
        return self.face_before - self.amount_per_unit if self.kind == REDEMPTION else self.face_before


def validate_redemptions(terms: BondTerms, steps: tuple[PartialRedemption, ...]) -> None:
    """Dates strictly increasing, each a coupon date before maturity, and the sum below the face value."""
    grid = set(schedule_dates(terms)[1:-1])
    previous: date | None = None
    total = Decimal(0)
    for index, step in enumerate(steps):
        field = f"redemption_schedule[{index}]"
        on = require_date(step.on, f"{field}.on")
        amount = require_decimal(step.principal_per_unit, f"{field}.principal_per_unit")
        if on not in grid:
            raise BondMathError(field, "must fall on a coupon date before maturity")
        if previous is not None and on <= previous:
            raise BondMathError(field, "dates must be strictly increasing")
        if amount <= 0 or amount != amount.quantize(_PAISE):
            raise BondMathError(field, "principal_per_unit must be positive, in paise")
        total += amount
        previous = on
    if total >= terms.face_value:
        raise BondMathError(
            "redemption_schedule", "partial redemptions must leave face outstanding at maturity"
        )


def face_outstanding(terms: BondTerms, steps: tuple[PartialRedemption, ...], on: date) -> Decimal:
    """Face per unit still outstanding at the end of `on` (repayments dated on or before it are gone)."""
    repaid = sum((s.principal_per_unit for s in steps if s.on <= on), Decimal(0))
    return terms.face_value - repaid


def cash_flows(
    terms: BondTerms, calendar: BusinessCalendar, steps: tuple[PartialRedemption, ...] = ()
) -> tuple[CashFlow, ...]:
    """Every coupon and principal payment per unit, in payment order (a coupon before its redemption)."""
    validate_redemptions(terms, steps)
    schedule = build_schedule(terms, calendar)
    by_date = {s.on: s.principal_per_unit for s in steps}
    flows: list[CashFlow] = []
    outstanding = terms.face_value
    for scheduled_on, coupon in zip(schedule_dates(terms)[1:], schedule.coupons, strict=True):
        scaled = MATH_CONTEXT.divide(MATH_CONTEXT.multiply(coupon.amount, outstanding), terms.face_value)
        flows.append(
            CashFlow(COUPON, scheduled_on, coupon.payment_date, scaled, outstanding, coupon.accrual_start)
        )
        principal = outstanding if scheduled_on == terms.maturity_date else by_date.get(scheduled_on)
        if principal is not None:
            flows.append(CashFlow(REDEMPTION, scheduled_on, coupon.payment_date, principal, outstanding))
            outstanding -= principal
    return tuple(flows)
