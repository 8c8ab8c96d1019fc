"""Who is owed a coupon or a redemption, and how much: the pure rules of a corporate action's entitlement.

- The record date is counted back `record_date_days` calendar days from the **payment** (adjusted) date
  (DOMAIN.md "Dates that decide eligibility"): `record_date_for` is the one place this file computes it.
- The holders of record are the investors whose settled units at the end of the record date are positive:
  every settled movement dated on or before it counts, later ones do not.
- Gross per holder = units × amount per unit (the coupon for the period by the bond's day count, on the face
  outstanding), rounded half up to the paisa once. A holiday moves the payment date, never the amount.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bondflow.domain.bonds.amortising import COUPON, CashFlow, PartialRedemption, cash_flows
from bondflow.domain.bonds.arithmetic import MATH_CONTEXT, round_money
from bondflow.domain.bonds.calendar import BusinessCalendar
from bondflow.domain.bonds.schedule import BondTerms
from bondflow.domain.eligibility import record_date
from bondflow.domain.scales import PER_UNIT_PLACES, half_up

ZERO = Decimal(0)


def record_date_for(payment_date: date, record_date_days: int) -> date:
    """The record date of a payment: the one shared rule of `bondflow.domain.eligibility.record_date`."""
    return record_date(payment_date, record_date_days)


@dataclass(frozen=True, slots=True)
class Entitlement:
    """One corporate action of an ISIN: a coupon or a (partial or final) redemption."""

    isin: str
    kind: str  # "coupon" or "redemption"
    scheduled_on: date  # unadjusted coupon / redemption date: the action's identity with the ISIN
    payment_date: date
    record_date: date
    amount_per_unit: Decimal  # INR per unit at 20 places (half-up), the scale its events publish
    face_before: Decimal  # face per unit outstanding before the payment
    face_after: Decimal
    accrual_start: date | None

    @property
    def is_final_redemption(self) -> bool:
        return self.kind != COUPON and self.face_after == 0


def entitlements(
    isin: str,
    terms: BondTerms,
    calendar: BusinessCalendar,
    record_date_days: int,
    redemptions: tuple[PartialRedemption, ...] = (),
) -> tuple[Entitlement, ...]:
    """Every corporate action of the bond, in payment order, each with its record date."""
    return tuple(
        _entitlement(isin, flow, record_date_days) for flow in cash_flows(terms, calendar, redemptions)
    )


def _entitlement(isin: str, flow: CashFlow, record_date_days: int) -> Entitlement:
    return Entitlement(
        isin=isin,
        kind=flow.kind,
        scheduled_on=flow.scheduled_on,
        payment_date=flow.payment_date,
        record_date=record_date_for(flow.payment_date, record_date_days),
        amount_per_unit=half_up(flow.amount_per_unit, PER_UNIT_PLACES),  # the contract's scale, decided once
        face_before=flow.face_before,
        face_after=flow.face_after,
        accrual_start=flow.accrual_start,
    )


@dataclass(frozen=True, slots=True)
class Movement:
    """A settled change of an investor's units in one ISIN (+ bought, − sold), dated when it settled."""

    holder: str
    units: Decimal
    settled_on: date


def holders_of_record(movements: Iterable[Movement], record_date: date) -> dict[str, Decimal]:
    """Units per holder at the end of `record_date`; holders with nothing left are not holders."""
    units: dict[str, Decimal] = {}
    for movement in movements:
        if movement.settled_on <= record_date:
            units[movement.holder] = units.get(movement.holder, ZERO) + movement.units
    return {holder: qty for holder, qty in sorted(units.items()) if qty > 0}


def gross_amount(units: Decimal, amount_per_unit: Decimal) -> Decimal:
    """What a holder is owed before tax: units × amount per unit, half up to the paisa (once)."""
    return round_money(MATH_CONTEXT.multiply(units, amount_per_unit))
