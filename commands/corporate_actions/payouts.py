"""Paying the holders of one corporate action: each holder's `CouponPaid` (or `Redeemed`) and the escrow
credit of its net amount are saved in one transaction, a batch of holders at a time, so a crash or a
concurrent copy of the job pays every holder exactly once (a lost race raises `IntegrityError`: reload
and decide again). TDS is decided per holder with the interest already paid by the issuer in the FY."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from bondflow.domain.corporate_actions import (
    COUPON,
    CorporateAction,
    HolderUnits,
    corporate_action_id,
    credit_reference,
)
from bondflow.domain.entitlement import gross_amount
from bondflow.domain.escrow import EscrowAccount
from bondflow.domain.tds import TdsConfig, TdsDecision, assess, financial_year
from bondflow.runtime.eventstore import EventStore
from commands.corporate_actions.tax_profiles import TaxProfiles
from commands.payments.escrow import EscrowService

JOB = "system:coupon-job"
BATCH = 100
ZERO = Decimal("0.00")

# (issuer, financial year) → the coupon actions (ISIN, scheduled date) of that issuer paid in that year
IssuerCoupons = Callable[[str, int], list[tuple[str, date]]]


class Payouts:
    def __init__(
        self, store: EventStore, escrow: EscrowService, profiles: TaxProfiles, config: TdsConfig
    ) -> None:
        self.store = store
        self.escrow = escrow
        self.profiles = profiles
        self.config = config

    def pay_all(self, action: CorporateAction, issuer_coupons: IssuerCoupons) -> CorporateAction:
        """Pay every unpaid holder; returns the action as saved (reloaded after a lost race)."""
        while unpaid := action.unpaid_holders():
            earlier = self._earlier_interest(action, issuer_coupons) if action.kind == COUPON else {}
            accounts = [self._pay(action, h, earlier.get(h.holder, ZERO)) for h in unpaid[:BATCH]]
            try:
                self.store.save(action, *accounts)
            except IntegrityError:  # another copy paid some of them first: decide again from the log
                action = self.load(action.id)
        return action

    def load(self, action_id: UUID) -> CorporateAction:
        found: CorporateAction = self.store.repository.get(action_id)
        return found

    def _pay(self, action: CorporateAction, holder: HolderUnits, earlier: Decimal) -> EscrowAccount:
        request_id = f"ca:{action.id}:{holder.holder}"
        gross = gross_amount(holder.units, action.amount_per_unit)
        account = self.escrow.load(holder.holder, actor_id=JOB, request_id=request_id)
        if action.kind == COUPON:
            decision = self._decide(action, holder.holder, gross, earlier)
            action.pay_coupon(holder.holder, decision, actor_id=JOB, request_id=request_id)
            amount, reason = decision.net, "coupon net of TDS"
        else:
            action.redeem(holder.holder, gross, actor_id=JOB, request_id=request_id)
            amount, reason = gross, "redemption principal"
        reference = credit_reference(action.isin, action.kind, action.scheduled_on, holder.holder)
        if amount > 0:
            account.credit(reference, amount, reason, actor_id=JOB, request_id=request_id)
        return account

    def _decide(self, action: CorporateAction, holder: str, gross: Decimal, earlier: Decimal) -> TdsDecision:
        fy = financial_year(action.payment_date)
        return assess(
            self.config,
            self.profiles.profile(holder, fy),
            rating_bucket=action.rating_bucket,
            gross=gross,
            paid_on=action.payment_date,
            earlier_interest_in_fy=earlier,
        )

    def _earlier_interest(self, action: CorporateAction, issuer_coupons: IssuerCoupons) -> dict[str, Decimal]:
        """Per holder, the gross interest the issuer already paid in the FY, by its other coupon actions."""
        totals: dict[str, Decimal] = {}
        for isin, scheduled_on in issuer_coupons(action.issuer, financial_year(action.payment_date)):
            other_id = corporate_action_id(isin, COUPON, scheduled_on)
            if other_id == action.id:
                continue
            try:
                other: CorporateAction = self.store.repository.get(other_id)
            except AggregateNotFoundError:
                continue
            if other.payment_date <= action.payment_date:
                for holder, gross in other.paid.items():
                    totals[holder] = totals.get(holder, ZERO) + gross
        return totals
