"""The CorporateAction aggregate: one coupon or one (partial or final) redemption of an ISIN.

Its id is derived from (ISIN, kind, scheduled date), so scheduling it twice collides on the aggregate id.
Life: `CouponScheduled` / `RedemptionScheduled` → `HoldersRecorded` (the holders of record on the record
date, from the log, checked against the chain) → per holder `CouponPaid` (gross, TDS rule, section and
rate, net) or `Redeemed` (principal) → `Completed`. A holder is paid at most once per action: the
aggregate refuses a second payment, and the escrow credit it goes with carries a reference derived from
(ISIN, kind, date, holder), so one transaction records both or neither.

Money moves (for the ledger, every amount and account named in the event):
- `CouponPaid`: `debit_account` (the issuer's paying agent, `issuer:<issuer>`) gross → `credit_account`
  (`investor:<id>:available`) net + `tds_account` (`tax:tds`) TDS;
- `Redeemed`: `debit_account` (`issuer:<issuer>`) amount → `credit_account` (`investor:<id>:available`).

Event class paths (`bondflow.domain.corporate_actions:CorporateAction.CouponPaid`, …) are stored data.

Why this module is over 300 lines (STYLE.md): an aggregate's event classes are stored topics
(`module:Aggregate.Event`), so the aggregate, its explicit event classes and the methods that record
them stay together in this one class body; helpers that record nothing live in sibling modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.entitlement import Entitlement
from bondflow.domain.ids import derived_id
from bondflow.domain.tds import TdsDecision

COUPON = "coupon"
REDEMPTION = "redemption"
TDS_ACCOUNT = "tax:tds"


def corporate_action_id(isin: str, kind: str, scheduled_on: date) -> UUID:
    return derived_id("corporate_action", isin, kind, scheduled_on.isoformat())


def credit_reference(isin: str, kind: str, scheduled_on: date, holder: str) -> str:
    """The escrow credit's reference: one credit per (ISIN, action, date, holder), whatever is retried."""
    return f"{kind}:{isin}:{scheduled_on.isoformat()}:{holder}"


def issuer_account(issuer: str) -> str:
    """The ledger account of what the issuer (its paying agent) owes for a coupon or a redemption:
    `issuer:<slug>` (lower case, runs of other characters as one '-': 'Acme Finance' → issuer:acme-finance)."""
    slug = re.sub(r"[^a-z0-9]+", "-", issuer.lower()).strip("-") or "unknown"
    return f"issuer:{slug}"


def investor_available_account(holder: str) -> str:
    return f"investor:{holder}:available"


@dataclass(frozen=True, slots=True)
class HolderUnits:
    holder: str
    units: Decimal


class CorporateAction(Aggregate):
    class CouponScheduled(Aggregate.Created):
        isin: str
        kind: str
        issuer: str
        rating_bucket: str
        scheduled_on: date
        accrual_start: date | None
        payment_date: date
        record_date: date
        amount_per_unit: Decimal
        face_before: Decimal
        face_after: Decimal
        actor_id: str
        request_id: str

    class RedemptionScheduled(Aggregate.Created):
        isin: str
        kind: str
        issuer: str
        rating_bucket: str
        scheduled_on: date
        accrual_start: date | None
        payment_date: date
        record_date: date
        amount_per_unit: Decimal
        face_before: Decimal
        face_after: Decimal
        actor_id: str
        request_id: str

    def __init__(
        self,
        *,
        isin: str,
        kind: str,
        issuer: str,
        rating_bucket: str,
        scheduled_on: date,
        accrual_start: date | None,
        payment_date: date,
        record_date: date,
        amount_per_unit: Decimal,
        face_before: Decimal,
        face_after: Decimal,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.isin = isin
        self.kind = kind
        self.issuer = issuer
        self.rating_bucket = rating_bucket
        self.scheduled_on = scheduled_on
        self.accrual_start = accrual_start
        self.payment_date = payment_date
        self.record_date = record_date
        self.amount_per_unit = amount_per_unit
        self.face_before = face_before
        self.face_after = face_after
        self.holders: dict[str, Decimal] | None = None
        self.paid: dict[str, Decimal] = {}  # holder → gross paid
        self.completed = False

    @classmethod
    def schedule(
        cls, entitlement: Entitlement, *, issuer: str, rating_bucket: str, actor_id: str, request_id: str
    ) -> CorporateAction:
        created = cls.CouponScheduled if entitlement.kind == COUPON else cls.RedemptionScheduled
        return cls._create(
            created,
            id=corporate_action_id(entitlement.isin, entitlement.kind, entitlement.scheduled_on),
            isin=entitlement.isin,
            kind=entitlement.kind,
            issuer=issuer,
            rating_bucket=rating_bucket,
            scheduled_on=entitlement.scheduled_on,
            accrual_start=entitlement.accrual_start,
            payment_date=entitlement.payment_date,
            record_date=entitlement.record_date,
            amount_per_unit=entitlement.amount_per_unit,
            face_before=entitlement.face_before,
            face_after=entitlement.face_after,
            actor_id=actor_id,
            request_id=request_id,
        )

    @property
    def is_final_redemption(self) -> bool:
        return self.kind == REDEMPTION and self.face_after == 0

    def unpaid_holders(self) -> list[HolderUnits]:
        return [HolderUnits(h, u) for h, u in (self.holders or {}).items() if h not in self.paid]

    def record_holders(self, holders: dict[str, Decimal], *, actor_id: str, request_id: str) -> bool:
        if self.holders is not None:
            return False
        rows = [{"holder": h, "units": u} for h, u in sorted(holders.items())]
        self._holders_recorded(
            record_date=self.record_date, holders=rows, actor_id=actor_id, request_id=request_id
        )
        return True

    class HoldersRecorded(Aggregate.Event):
        record_date: date
        holders: list[dict[str, Any]]
        actor_id: str
        request_id: str

    @event(HoldersRecorded)
    def _holders_recorded(
        self, *, record_date: date, holders: list[dict[str, Any]], actor_id: str, request_id: str
    ) -> None:
        self.holders = {str(r["holder"]): Decimal(r["units"]) for r in holders}

    def pay_coupon(self, holder: str, decision: TdsDecision, *, actor_id: str, request_id: str) -> bool:
        """Record one holder's coupon (False, nothing recorded, if already paid or not a holder)."""
        if self.kind != COUPON or self.holders is None or holder not in self.holders or holder in self.paid:
            return False
        self._coupon_paid(
            isin=self.isin,
            holder=holder,
            units=self.holders[holder],
            gross=decision.gross,
            tds=decision.tds,
            net=decision.net,
            tds_rule=decision.rule.value,
            tds_section=decision.section,
            tds_rate_pct=decision.rate_pct,
            financial_year=decision.financial_year,
            payment_date=self.payment_date,
            credit_reference=credit_reference(self.isin, COUPON, self.scheduled_on, holder),
            debit_account=issuer_account(self.issuer),
            credit_account=investor_available_account(holder),
            tds_account=TDS_ACCOUNT,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class CouponPaid(Aggregate.Event):
        isin: str
        holder: str
        units: Decimal
        gross: Decimal
        tds: Decimal
        net: Decimal
        tds_rule: str
        tds_section: str
        tds_rate_pct: Decimal
        financial_year: int
        payment_date: date
        credit_reference: str
        debit_account: str
        credit_account: str
        tds_account: str
        actor_id: str
        request_id: str

    @event(CouponPaid)
    def _coupon_paid(
        self,
        *,
        isin: str,
        holder: str,
        units: Decimal,
        gross: Decimal,
        tds: Decimal,
        net: Decimal,
        tds_rule: str,
        tds_section: str,
        tds_rate_pct: Decimal,
        financial_year: int,
        payment_date: date,
        credit_reference: str,
        debit_account: str,
        credit_account: str,
        tds_account: str,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.paid[holder] = gross

    def redeem(self, holder: str, amount: Decimal, *, actor_id: str, request_id: str) -> bool:
        """Record one holder's principal repayment (False if already paid or not a holder)."""
        if (
            self.kind != REDEMPTION
            or self.holders is None
            or holder not in self.holders
            or holder in self.paid
        ):
            return False
        self._redeemed(
            isin=self.isin,
            holder=holder,
            units=self.holders[holder],
            principal_per_unit=self.amount_per_unit,
            amount=amount,
            face_after=self.face_after,
            payment_date=self.payment_date,
            credit_reference=credit_reference(self.isin, REDEMPTION, self.scheduled_on, holder),
            debit_account=issuer_account(self.issuer),
            credit_account=investor_available_account(holder),
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class Redeemed(Aggregate.Event):
        isin: str
        holder: str
        units: Decimal
        principal_per_unit: Decimal
        amount: Decimal
        face_after: Decimal
        payment_date: date
        credit_reference: str
        debit_account: str
        credit_account: str
        actor_id: str
        request_id: str

    @event(Redeemed)
    def _redeemed(
        self,
        *,
        isin: str,
        holder: str,
        units: Decimal,
        principal_per_unit: Decimal,
        amount: Decimal,
        face_after: Decimal,
        payment_date: date,
        credit_reference: str,
        debit_account: str,
        credit_account: str,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.paid[holder] = amount

    def complete(self, *, actor_id: str, request_id: str) -> bool:
        if self.completed or self.holders is None or self.unpaid_holders():
            return False
        self._completed(
            holders=len(self.paid),
            total=sum(self.paid.values(), Decimal("0.00")),
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class Completed(Aggregate.Event):
        holders: int
        total: Decimal
        actor_id: str
        request_id: str

    @event(Completed)
    def _completed(self, *, holders: int, total: Decimal, actor_id: str, request_id: str) -> None:
        self.completed = True
