"""What effect workers call to record outcomes: command handlers, injected by the composition root.

Workers live below `commands/` (ARCHITECTURE §4): they call providers and report what came back, and the
handlers behind these protocols load, decide and save. The value types the two sides exchange live here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from bondflow.adapters.venue import Fill, Quote
from bondflow.domain.corporate_actions import CorporateAction
from bondflow.domain.entitlement import Entitlement
from bondflow.domain.escrow import EscrowAccount, Payment, PaymentStatus

RECONCILER = "system:payments-reconciler"


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    """An order routed for execution: the RFQ to send and the worst price a fill may have."""

    order_id: UUID
    rfq_id: str
    isin: str
    side: str
    qty: Decimal
    reference_clean_price: Decimal
    dealers: list[str]
    cap: Decimal


class ExecutionHandler(Protocol):
    def prepare(self, order_id: UUID) -> ExecutionPlan | None: ...

    def complete(
        self, plan: ExecutionPlan, quotes: list[Quote], reason: str, execute: Callable[[Quote, Decimal], Fill]
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Recorded:
    applied: bool  # False: nothing recorded (already decided, a redelivery)
    status: PaymentStatus
    position: int


@dataclass(frozen=True, slots=True)
class ProviderAnswer:
    """A final answer from the provider about one payment (a webhook, or a status query)."""

    payment_id: str
    confirmed: bool
    reference: str | None
    amount: Decimal | None
    provider_event_id: str | None


class PaymentOutcomeHandler(Protocol):
    def payment(self, payment_id: str) -> tuple[EscrowAccount, Payment]: ...

    def initiation_refused(
        self, account_id: UUID, payment_id: str, reason: str, *, actor_id: str, request_id: str
    ) -> Recorded: ...

    def provider_answered(self, answer: ProviderAnswer, *, actor_id: str, request_id: str) -> Recorded: ...

    def deadline_passed(self, payment_id: str, reason: str, *, request_id: str) -> Recorded: ...

    def never_received(self, payment_id: str, *, request_id: str) -> Recorded: ...

    def resolve(
        self,
        payment_id: str,
        answer: ProviderAnswer | None,
        bank_amount: Decimal | None,
        *,
        operator: str,
        request_id: str,
    ) -> Recorded: ...


class CorporateActionHandler(Protocol):
    """What the coupon job records (`commands.corporate_actions.job_commands`)."""

    def record_movement(
        self, kind: str, *, isin: str, wallet: str, qty: Decimal, tx_hash: str, key: str, reason: str
    ) -> None: ...

    def open(self, entitlement: Entitlement, *, issuer: str, rating_bucket: str) -> CorporateAction: ...

    def record_holders(self, action: CorporateAction, holders: Mapping[str, Decimal]) -> CorporateAction: ...

    def pay_all(
        self, action: CorporateAction, issuer_coupons: Callable[[str, int], list[tuple[str, date]]]
    ) -> CorporateAction: ...

    def complete(self, action: CorporateAction) -> None: ...
