"""The EscrowAccount aggregate: one per investor, the cash side of trading. Pure: no I/O, no clock.

Cash lives in three places: `available` (free to reserve or withdraw), `reservations` (held per reference,
for example an order id, until it is debited by settlement or released) and `pending_withdrawal` (paid
out to the bank, waiting for the provider's answer). Every method keeps, after each event,

    available + reserved + pending_withdrawal
        == confirmed deposits + credits − debits − paid withdrawals

and none of the three ever goes negative. A refused command raises a domain error and records nothing.

Payments (deposits and withdrawals) are entities of the account, addressed by a `payment_id` that names
the account (`pay_<account hex>_<hex>`, `wdr_…`), so a provider webhook finds its account without a
lookup. Method limits (documented here, enforced once): UPI at most ₹1,00,000 per payment (NPCI's
general limit); RTGS at least ₹2,00,000 (RBI's RTGS floor); NEFT any amount; every payment at most
₹10,00,00,000 (platform cap). Amounts are `Decimal` rupees with at most two places (paise).

A provider answer that does not fit (`amount_mismatch`) or no answer by the payment's deadline makes the
payment a break (`BROKEN`, `PaymentBreakRaised`): nothing moves until an operator resolves it against the
provider's own answer and the bank statement (`resolve_break`), or, for a deadline break, the provider's
late answer arrives. A break never credits anything; a resolution credits only what the provider confirmed.

Event class paths (`bondflow.domain.escrow:EscrowAccount.DepositInitiated`, …) are stored data: never
move or rename them.

Why this module is over 300 lines (STYLE.md): an aggregate's event classes are stored topics
(`module:Aggregate.Event`), so the aggregate, its explicit event classes and the methods that record
them stay together in this one class body; helpers that record nothing live in sibling modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.ids import derived_id
from bondflow.errors import InsufficientFunds, InvalidRequest, NotFound, PaymentNotResolvable

PAISE = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_PAYMENT = Decimal("100000000.00")  # ₹10 crore per payment
UPI_MAX = Decimal("100000.00")
RTGS_MIN = Decimal("200000.00")
AMOUNT_MISMATCH = "amount_mismatch"
DEADLINE_BREAK = "deadline"  # no final answer from the provider by the payment's deadline
_PAYMENT_ID = re.compile(r"^(pay|wdr)_([0-9a-f]{32})_([0-9a-f]{32})$")


class PaymentMethod(StrEnum):
    UPI = "UPI"
    RTGS = "RTGS"
    NEFT = "NEFT"

    @classmethod
    def parse(cls, raw: object, field: str = "method") -> PaymentMethod:
        if raw not in ("UPI", "RTGS", "NEFT"):
            raise InvalidRequest(
                f"{field}: must be UPI, RTGS or NEFT", {"fields": {field: "UPI, RTGS or NEFT"}}
            )
        return cls(str(raw))


class PaymentKind(StrEnum):
    DEPOSIT = "DEPOSIT"
    WITHDRAWAL = "WITHDRAWAL"


class PaymentStatus(StrEnum):
    INITIATED = "INITIATED"
    CONFIRMED = "CONFIRMED"  # deposit credited, or withdrawal paid out
    FAILED = "FAILED"
    BROKEN = "BROKEN"  # a break for operators: the provider's answer did not fit, or none came in time


@dataclass
class Payment:
    payment_id: str
    kind: PaymentKind
    method: PaymentMethod
    amount: Decimal
    request_fingerprint: str
    initiated_version: int  # the account version of the initiating event (idempotent replays answer it)
    status: PaymentStatus = PaymentStatus.INITIATED
    reference: str | None = None
    reason: str | None = None

    @property
    def awaits_provider(self) -> bool:
        """Still open to the provider's answer: INITIATED, or a break only because the answer was late."""
        late = self.status is PaymentStatus.BROKEN and (self.reason or "").startswith(DEADLINE_BREAK)
        return self.status is PaymentStatus.INITIATED or late


def escrow_id(user_id: str) -> UUID:
    return derived_id("escrow", user_id)


def payment_id_for(user_id: str, kind: PaymentKind, idempotency_key: str) -> str:
    """Derived from (user, kind, key): a retried request lands on the same payment."""
    prefix = "pay" if kind is PaymentKind.DEPOSIT else "wdr"
    return (
        f"{prefix}_{escrow_id(user_id).hex}_{derived_id('payment', kind.value, user_id, idempotency_key).hex}"
    )


def escrow_id_of_payment(payment_id: str) -> UUID | None:
    match = _PAYMENT_ID.match(payment_id)
    return UUID(hex=match.group(2)) if match else None


def paise(amount: Decimal | int, field: str = "amount") -> Decimal:
    """A positive amount of rupees with at most two places, quantized to paise."""
    value = Decimal(amount) if isinstance(amount, int) and not isinstance(amount, bool) else amount
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise InvalidRequest(
            f"{field}: must be greater than 0", {"fields": {field: "must be greater than 0"}}
        )
    if value > MAX_PAYMENT:
        raise InvalidRequest(
            f"{field}: must not exceed {MAX_PAYMENT}", {"fields": {field: f"at most {MAX_PAYMENT}"}}
        )
    if value.quantize(PAISE) != value:
        raise InvalidRequest(
            f"{field}: at most 2 decimal places (paise)", {"fields": {field: "at most 2 places"}}
        )
    return value.quantize(PAISE)


def payment_amount(amount: Decimal, method: PaymentMethod) -> Decimal:
    """`paise(amount)` within the method's limits (see the module docstring)."""
    value = paise(amount)
    if method is PaymentMethod.UPI and value > UPI_MAX:
        raise InvalidRequest(
            f"amount: UPI allows at most {UPI_MAX}", {"fields": {"amount": f"UPI: at most {UPI_MAX}"}}
        )
    if method is PaymentMethod.RTGS and value < RTGS_MIN:
        raise InvalidRequest(
            f"amount: RTGS needs at least {RTGS_MIN}", {"fields": {"amount": f"RTGS: at least {RTGS_MIN}"}}
        )
    return value


def _resolution_amount(
    payment: Payment,
    provider_confirmed: bool | None,
    provider_amount: Decimal | None,
    bank_amount: Decimal | None,
) -> Decimal:
    """What a resolved break moves (ZERO: it failed), or `PaymentNotResolvable` when the provider has no
    final answer or the bank statement disagrees with it."""
    details: dict[str, object] = {"payment_id": payment.payment_id, "initiated": str(payment.amount)}
    if provider_confirmed is None:
        raise PaymentNotResolvable("the provider has no final answer for this payment yet", details)
    if not provider_confirmed or provider_amount is None:
        if bank_amount is not None and bank_amount != ZERO:
            raise PaymentNotResolvable(
                "the provider reports that nothing moved; the bank statement amount does not agree",
                {**details, "bank_amount": str(bank_amount)},
            )
        return ZERO
    if bank_amount is not None and bank_amount != provider_amount:
        raise PaymentNotResolvable(
            "the bank statement amount does not match the provider's confirmation",
            {**details, "bank_amount": str(bank_amount), "provider_amount": str(provider_amount)},
        )
    if provider_amount != payment.amount and (bank_amount is None or payment.kind is PaymentKind.WITHDRAWAL):
        raise PaymentNotResolvable(
            "the provider confirmed another amount: resolve with the amount the bank statement shows"
            if payment.kind is PaymentKind.DEPOSIT
            else "a payout of another amount than requested cannot be resolved here",
            {**details, "provider_amount": str(provider_amount)},
        )
    return provider_amount


class EscrowAccount(Aggregate):
    """An investor's escrow cash. Every event records who acted and for which request."""

    class Opened(Aggregate.Created):
        user_id: str
        actor_id: str
        request_id: str

    @event(Opened)
    def __init__(self, *, id: UUID, user_id: str, actor_id: str, request_id: str) -> None:
        self.user_id = user_id
        self.available = ZERO
        self.pending_withdrawal = ZERO
        self.reservations: dict[str, Decimal] = {}
        self.payments: dict[str, Payment] = {}
        self.debited: set[tuple[str, str]] = set()  # (reference, trade_id) already debited
        self.credited: set[str] = set()  # credit references already applied

    @classmethod
    def open(cls, user_id: str, *, actor_id: str, request_id: str) -> EscrowAccount:
        return cls(id=escrow_id(user_id), user_id=user_id, actor_id=actor_id, request_id=request_id)

    @property
    def reserved(self) -> Decimal:
        return sum(self.reservations.values(), ZERO)

    def reserved_for(self, reference: str) -> Decimal:
        return self.reservations.get(reference, ZERO)

    def payment(self, payment_id: str) -> Payment:
        found = self.payments.get(payment_id)
        if found is None:
            raise NotFound("payment not found", {"payment_id": payment_id})
        return found

    # -- deposits -------------------------------------------------------------------------------------

    def initiate_deposit(
        self,
        payment_id: str,
        amount: Decimal,
        method: PaymentMethod,
        *,
        request_fingerprint: str,
        actor_id: str,
        request_id: str,
    ) -> bool:
        """Record a deposit to be collected; False (nothing recorded) when this payment already exists."""
        if payment_id in self.payments:
            return False
        self._deposit_initiated(
            payment_id=payment_id,
            amount=payment_amount(amount, method),
            method=method.value,
            request_fingerprint=request_fingerprint,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class DepositInitiated(Aggregate.Event):
        payment_id: str
        amount: Decimal
        method: str
        request_fingerprint: str
        actor_id: str
        request_id: str

    @event(DepositInitiated)
    def _deposit_initiated(
        self,
        *,
        payment_id: str,
        amount: Decimal,
        method: str,
        request_fingerprint: str,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.payments[payment_id] = Payment(
            payment_id,
            PaymentKind.DEPOSIT,
            PaymentMethod(method),
            amount,
            request_fingerprint,
            self.version + 1,
        )

    def confirm_payment(
        self,
        payment_id: str,
        reference: str | None,
        amount: Decimal,
        provider_event_id: str,
        *,
        actor_id: str,
        request_id: str,
    ) -> bool:
        """The provider confirmed a deposit (credited to `available`) or a withdrawal (paid out).

        Idempotent: a payment already confirmed, failed or broken records nothing (False). A confirmation
        whose amount differs from the initiated one is a break with reason `amount_mismatch`."""
        payment = self.payment(payment_id)
        if not payment.awaits_provider:
            return False
        if amount != payment.amount:
            reason = f"{AMOUNT_MISMATCH}: provider reported {amount}, initiated {payment.amount}"
            return self.raise_break(
                payment_id,
                reference,
                amount,
                provider_event_id,
                reason,
                actor_id=actor_id,
                request_id=request_id,
            )
        record = self._payment_confirmed if payment.kind is PaymentKind.DEPOSIT else self._withdrawal_paid
        record(
            payment_id=payment_id,
            reference=reference,
            amount=payment.amount,
            provider_event_id=provider_event_id,
            reason=None,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    def fail_payment(
        self,
        payment_id: str,
        reference: str | None,
        amount: Decimal | None,
        provider_event_id: str | None,
        reason: str,
        *,
        actor_id: str,
        request_id: str,
    ) -> bool:
        """The payment failed (provider answer, or initiation refused): a deposit credits nothing, a
        withdrawal's amount returns to `available`. Idempotent like `confirm_payment`."""
        payment = self.payment(payment_id)
        if not payment.awaits_provider:
            return False
        record = self._payment_failed if payment.kind is PaymentKind.DEPOSIT else self._withdrawal_failed
        record(
            payment_id=payment_id,
            reference=reference,
            amount=amount,
            provider_event_id=provider_event_id,
            reason=reason,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class PaymentConfirmed(Aggregate.Event):
        payment_id: str
        reference: str | None
        amount: Decimal | None
        provider_event_id: str | None
        reason: str | None
        actor_id: str
        request_id: str

    @event(PaymentConfirmed)
    def _payment_confirmed(
        self,
        *,
        payment_id: str,
        reference: str | None,
        amount: Decimal | None,
        provider_event_id: str | None,
        reason: str | None,
        actor_id: str,
        request_id: str,
    ) -> None:
        payment = self._settle(payment_id, PaymentStatus.CONFIRMED, reference, reason)
        self.available += payment.amount

    class PaymentFailed(Aggregate.Event):
        payment_id: str
        reference: str | None
        amount: Decimal | None
        provider_event_id: str | None
        reason: str | None
        actor_id: str
        request_id: str

    @event(PaymentFailed)
    def _payment_failed(
        self,
        *,
        payment_id: str,
        reference: str | None,
        amount: Decimal | None,
        provider_event_id: str | None,
        reason: str | None,
        actor_id: str,
        request_id: str,
    ) -> None:
        self._settle(payment_id, PaymentStatus.FAILED, reference, reason)

    # -- breaks ---------------------------------------------------------------------------------------

    def raise_break(
        self,
        payment_id: str,
        reference: str | None,
        amount: Decimal | None,
        provider_event_id: str | None,
        reason: str,
        *,
        actor_id: str,
        request_id: str,
    ) -> bool:
        """Hand the payment to operators (reason `amount_mismatch: …` or `deadline: …`); nothing moves: a
        deposit credits nothing, a withdrawal's amount stays pending. False when it no longer awaits the
        provider, or is already this break."""
        payment = self.payment(payment_id)
        if not payment.awaits_provider or (
            payment.status is PaymentStatus.BROKEN and reason == payment.reason
        ):
            return False
        self._payment_break_raised(
            payment_id=payment_id,
            reference=reference,
            amount=amount,
            provider_event_id=provider_event_id,
            reason=reason,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    def resolve_break(
        self,
        payment_id: str,
        *,
        provider_confirmed: bool | None,
        provider_amount: Decimal | None,
        reference: str | None,
        provider_event_id: str | None,
        bank_amount: Decimal | None,
        actor_id: str,
        request_id: str,
    ) -> PaymentStatus:
        """An operator settles a break with the provider's final answer (`provider_confirmed`: True, False,
        None when it has none) and, optionally, the amount the bank statement shows (0: nothing moved).
        Only what the provider confirmed is credited: the two must agree, or nothing is recorded."""
        payment = self.payment(payment_id)
        if payment.status is not PaymentStatus.BROKEN:
            raise PaymentNotResolvable("the payment is not a break", {"status": payment.status.value})
        moved = _resolution_amount(payment, provider_confirmed, provider_amount, bank_amount)
        reason = f"resolved by an operator: the provider's answer and the bank statement show {moved}"

        def record(recorder: Callable[..., None], amount: Decimal | None) -> None:
            recorder(
                payment_id=payment_id,
                reference=reference,
                amount=amount,
                provider_event_id=provider_event_id,
                reason=reason,
                actor_id=actor_id,
                request_id=request_id,
            )

        deposit = payment.kind is PaymentKind.DEPOSIT
        if moved == ZERO:
            record(self._payment_failed if deposit else self._withdrawal_failed, None)
            return PaymentStatus.FAILED
        if moved != payment.amount:  # a deposit the bank received in another amount than declared
            record(self._payment_amount_corrected, moved)
        record(self._payment_confirmed if deposit else self._withdrawal_paid, moved)
        return PaymentStatus.CONFIRMED

    class PaymentBreakRaised(Aggregate.Event):
        payment_id: str
        reference: str | None
        amount: Decimal | None
        provider_event_id: str | None
        reason: str | None
        actor_id: str
        request_id: str

    @event(PaymentBreakRaised)
    def _payment_break_raised(
        self,
        *,
        payment_id: str,
        reference: str | None,
        amount: Decimal | None,
        provider_event_id: str | None,
        reason: str | None,
        actor_id: str,
        request_id: str,
    ) -> None:
        self._settle(payment_id, PaymentStatus.BROKEN, reference, reason)

    class PaymentAmountCorrected(Aggregate.Event):
        payment_id: str
        reference: str | None
        amount: Decimal | None
        provider_event_id: str | None
        reason: str | None
        actor_id: str
        request_id: str

    @event(PaymentAmountCorrected)
    def _payment_amount_corrected(
        self,
        *,
        payment_id: str,
        reference: str | None,
        amount: Decimal | None,
        provider_event_id: str | None,
        reason: str | None,
        actor_id: str,
        request_id: str,
    ) -> None:
        if amount is not None:
            self.payments[payment_id].amount = amount

    def _settle(
        self, payment_id: str, status: PaymentStatus, reference: str | None, reason: str | None
    ) -> Payment:
        payment = self.payments[payment_id]
        payment.status = status
        payment.reference = reference
        payment.reason = reason
        return payment

    # -- reservations ---------------------------------------------------------------------------------

    def reserve(self, reference: str, amount: Decimal, *, actor_id: str, request_id: str) -> None:
        """Hold `amount` of available cash for `reference` (adds to what it already holds)."""
        value = paise(amount)
        if self.available < value:
            raise InsufficientFunds(
                "available escrow is less than the amount to reserve",
                {"available": str(self.available), "required": str(value)},
            )
        self._funds_reserved(reference=reference, amount=value, actor_id=actor_id, request_id=request_id)

    class FundsReserved(Aggregate.Event):
        reference: str
        amount: Decimal
        actor_id: str
        request_id: str

    @event(FundsReserved)
    def _funds_reserved(self, *, reference: str, amount: Decimal, actor_id: str, request_id: str) -> None:
        self.available -= amount
        self.reservations[reference] = self.reserved_for(reference) + amount

    def release(
        self, reference: str, amount: Decimal | None = None, *, actor_id: str, request_id: str
    ) -> Decimal:
        """Give back to `available` what `reference` still holds (or at most `amount` of it); returns the
        amount released. Idempotent: nothing held, nothing recorded."""
        held = self.reserved_for(reference)
        value = held if amount is None else min(paise(amount), held)
        if value > 0:
            self._funds_released(reference=reference, amount=value, actor_id=actor_id, request_id=request_id)
        return value

    class FundsReleased(Aggregate.Event):
        reference: str
        amount: Decimal
        actor_id: str
        request_id: str

    @event(FundsReleased)
    def _funds_released(self, *, reference: str, amount: Decimal, actor_id: str, request_id: str) -> None:
        self._take_reservation(reference, amount)
        self.available += amount

    def debit(
        self, reference: str, amount: Decimal, trade_id: str, *, actor_id: str, request_id: str
    ) -> bool:
        """Settlement takes `amount` out of `reference`'s reservation, never more than it holds.
        Idempotent per (reference, trade_id): a second debit for the same trade records nothing (False)."""
        value = paise(amount)
        if (reference, trade_id) in self.debited:
            return False
        held = self.reserved_for(reference)
        if value > held:
            raise InsufficientFunds(
                "the reservation holds less than the amount to debit",
                {"reference": reference, "reserved": str(held), "required": str(value)},
            )
        self._funds_debited(
            reference=reference, amount=value, trade_id=trade_id, actor_id=actor_id, request_id=request_id
        )
        return True

    class FundsDebited(Aggregate.Event):
        reference: str
        amount: Decimal
        trade_id: str
        actor_id: str
        request_id: str

    @event(FundsDebited)
    def _funds_debited(
        self, *, reference: str, amount: Decimal, trade_id: str, actor_id: str, request_id: str
    ) -> None:
        self._take_reservation(reference, amount)
        self.debited.add((reference, trade_id))

    def _take_reservation(self, reference: str, amount: Decimal) -> None:
        left = self.reservations[reference] - amount
        if left:
            self.reservations[reference] = left
        else:
            del self.reservations[reference]

    def credit(self, reference: str, amount: Decimal, reason: str, *, actor_id: str, request_id: str) -> bool:
        """Add cash to `available` (sale proceeds, refunds, coupons net of TDS). `reference` names the
        credit (for example `refund:<trade_id>`): a second credit with it records nothing (False)."""
        value = paise(amount)
        if reference in self.credited:
            return False
        self._funds_credited(
            reference=reference, amount=value, reason=reason, actor_id=actor_id, request_id=request_id
        )
        return True

    class FundsCredited(Aggregate.Event):
        reference: str
        amount: Decimal
        reason: str
        actor_id: str
        request_id: str

    @event(FundsCredited)
    def _funds_credited(
        self, *, reference: str, amount: Decimal, reason: str, actor_id: str, request_id: str
    ) -> None:
        self.available += amount
        self.credited.add(reference)

    # -- withdrawals ----------------------------------------------------------------------------------

    def request_withdrawal(
        self,
        withdrawal_id: str,
        amount: Decimal,
        method: PaymentMethod = PaymentMethod.NEFT,
        *,
        request_fingerprint: str,
        actor_id: str,
        request_id: str,
    ) -> bool:
        """Move `amount` from `available` to a pending payout; the provider's webhook completes it
        (`confirm_payment`) or fails it (`fail_payment`, the amount returns). False if it already exists."""
        if withdrawal_id in self.payments:
            return False
        value = payment_amount(amount, method)
        if self.available < value:
            raise InsufficientFunds(
                "available escrow is less than the amount to withdraw",
                {"available": str(self.available), "required": str(value)},
            )
        self._withdrawal_requested(
            payment_id=withdrawal_id,
            amount=value,
            method=method.value,
            request_fingerprint=request_fingerprint,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class WithdrawalRequested(Aggregate.Event):
        payment_id: str
        amount: Decimal
        method: str
        request_fingerprint: str
        actor_id: str
        request_id: str

    @event(WithdrawalRequested)
    def _withdrawal_requested(
        self,
        *,
        payment_id: str,
        amount: Decimal,
        method: str,
        request_fingerprint: str,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.payments[payment_id] = Payment(
            payment_id,
            PaymentKind.WITHDRAWAL,
            PaymentMethod(method),
            amount,
            request_fingerprint,
            self.version + 1,
        )
        self.available -= amount
        self.pending_withdrawal += amount

    class WithdrawalPaid(Aggregate.Event):
        payment_id: str
        reference: str | None
        amount: Decimal | None
        provider_event_id: str | None
        reason: str | None
        actor_id: str
        request_id: str

    @event(WithdrawalPaid)
    def _withdrawal_paid(
        self,
        *,
        payment_id: str,
        reference: str | None,
        amount: Decimal | None,
        provider_event_id: str | None,
        reason: str | None,
        actor_id: str,
        request_id: str,
    ) -> None:
        payment = self._settle(payment_id, PaymentStatus.CONFIRMED, reference, reason)
        self.pending_withdrawal -= payment.amount

    class WithdrawalFailed(Aggregate.Event):
        payment_id: str
        reference: str | None
        amount: Decimal | None
        provider_event_id: str | None
        reason: str | None
        actor_id: str
        request_id: str

    @event(WithdrawalFailed)
    def _withdrawal_failed(
        self,
        *,
        payment_id: str,
        reference: str | None,
        amount: Decimal | None,
        provider_event_id: str | None,
        reason: str | None,
        actor_id: str,
        request_id: str,
    ) -> None:
        payment = self._settle(payment_id, PaymentStatus.FAILED, reference, reason)
        self.pending_withdrawal -= payment.amount
        self.available += payment.amount
