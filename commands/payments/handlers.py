"""Payment commands: deposit and withdraw (Idempotency-Key required), and the provider's signed webhook.

A payment's id derives from (user, kind, Idempotency-Key) and the request fingerprint is stored on its
first event, so a retry is answered as a replay (409), another body under the same key is refused (422),
and concurrent requests collide on the account's version: exactly one effect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bondflow.domain.escrow import (
    EscrowAccount,
    Payment,
    PaymentKind,
    PaymentMethod,
    paise,
    payment_amount,
    payment_id_for,
)
from bondflow.domain.values import exact_decimal
from bondflow.errors import IdempotencyKeyReused, InvalidRequest
from bondflow.runtime.eventstore import EventStore, position_of
from bondflow.security.webhooks import WebhookVerifier
from commands.investors.users import only_fields
from commands.kernel.bodies import exact_json
from commands.kernel.conflicts import decide_and_save
from commands.kernel.context import Accepted, CommandContext
from commands.kernel.idempotency import InFlightGuard, fingerprint, require_key
from commands.payments.escrow import EscrowService
from commands.payments.outcomes import PaymentOutcomes, ProviderAnswer

DEPOSIT_ROUTE = "POST /v1/payments/deposits"
WITHDRAWAL_ROUTE = "POST /v1/payments/withdrawals"
PROVIDER_ACTOR = "payments-provider"
_TEXT_MAX = 128


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """`{amount, method}` of a deposit or a withdrawal (a withdrawal's method defaults to NEFT)."""

    amount: Decimal
    method: PaymentMethod

    @classmethod
    def from_body(cls, body: dict[str, Any], *, method_required: bool = True) -> PaymentRequest:
        only_fields(body, {"amount", "method"}, {"amount", "method"} if method_required else {"amount"})
        method = PaymentMethod.parse(body.get("method", PaymentMethod.NEFT.value))
        return cls(payment_amount(exact_decimal(body["amount"], "amount"), method), method)

    def normalised(self) -> dict[str, str]:
        return {"amount": str(self.amount), "method": self.method.value}


@dataclass(frozen=True, slots=True)
class ProviderPayment:
    """The provider's webhook: `{event_id, payment_id, status, reference, amount}`."""

    event_id: str
    payment_id: str
    confirmed: bool
    reference: str | None
    amount: Decimal

    @classmethod
    def from_raw(cls, raw: bytes) -> ProviderPayment:
        body = exact_json(raw, "webhook body")
        only_fields(
            body,
            {"event_id", "payment_id", "status", "reference", "amount"},
            {"event_id", "payment_id", "status", "amount"},
        )
        if body["status"] not in ("CONFIRMED", "FAILED"):
            raise InvalidRequest(
                "status: must be CONFIRMED or FAILED", {"fields": {"status": "CONFIRMED or FAILED"}}
            )
        reference = body.get("reference")
        return cls(
            event_id=_text(body["event_id"], "event_id"),
            payment_id=_text(body["payment_id"], "payment_id"),
            confirmed=body["status"] == "CONFIRMED",
            reference=None if reference is None else _text(reference, "reference"),
            amount=paise(exact_decimal(body["amount"], "amount")),
        )


def _text(raw: object, field: str) -> str:
    if not isinstance(raw, str) or not 1 <= len(raw) <= _TEXT_MAX or not raw.isprintable():
        raise InvalidRequest(
            f"{field}: must be text of 1 to {_TEXT_MAX} characters", {"fields": {field: "invalid"}}
        )
    return raw


class PaymentCommands:
    def __init__(
        self, store: EventStore, escrow: EscrowService, guard: InFlightGuard, verifier: WebhookVerifier
    ) -> None:
        self.store = store
        self.escrow = escrow
        self.guard = guard
        self.verifier = verifier
        self.outcomes = PaymentOutcomes(store, escrow)

    def deposit(self, command: PaymentRequest, ctx: CommandContext) -> Accepted:
        def start(account: EscrowAccount, payment_id: str, request_fingerprint: str) -> None:
            account.initiate_deposit(
                payment_id,
                command.amount,
                command.method,
                request_fingerprint=request_fingerprint,
                actor_id=ctx.actor_id,
                request_id=ctx.request_id,
            )

        return self._initiate(
            PaymentKind.DEPOSIT, fingerprint(DEPOSIT_ROUTE, command.normalised()), start, ctx
        )

    def withdraw(self, command: PaymentRequest, ctx: CommandContext) -> Accepted:
        def start(account: EscrowAccount, payment_id: str, request_fingerprint: str) -> None:
            account.request_withdrawal(
                payment_id,
                command.amount,
                command.method,
                request_fingerprint=request_fingerprint,
                actor_id=ctx.actor_id,
                request_id=ctx.request_id,
            )

        return self._initiate(
            PaymentKind.WITHDRAWAL, fingerprint(WITHDRAWAL_ROUTE, command.normalised()), start, ctx
        )

    def _initiate(
        self,
        kind: PaymentKind,
        request_fingerprint: str,
        start: Callable[[EscrowAccount, str, str], None],
        ctx: CommandContext,
    ) -> Accepted:
        key = require_key(ctx.idempotency_key)
        payment_id = payment_id_for(ctx.actor_id, kind, key)

        def attempt() -> Accepted:
            account = self.escrow.load(ctx.actor_id, actor_id=ctx.actor_id, request_id=ctx.request_id)
            existing = account.payments.get(payment_id)
            if existing is not None:
                return self._replay(account, existing, request_fingerprint)
            start(account, payment_id, request_fingerprint)  # refuses (raises) before recording anything
            position = self.store.save_and_position(account)
            return Accepted({"payment_id": payment_id, "status": "INITIATED"}, position)

        with self.guard.hold("payments", ctx.actor_id, key), self.escrow.writing(ctx.actor_id):
            return decide_and_save(attempt, what="the escrow account", details={"payment_id": payment_id})

    def _replay(self, account: EscrowAccount, payment: Payment, request_fingerprint: str) -> Accepted:
        if payment.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different request body",
                {"payment_id": payment.payment_id},
            )
        position = position_of(self.store, account.id, payment.initiated_version) or 0
        return Accepted({"payment_id": payment.payment_id, "status": "INITIATED"}, position, replayed=True)

    def receive_webhook(self, headers: Mapping[str, str], raw: bytes, request_id: str) -> Accepted:
        """Verify signature, timestamp and nonce; then apply the provider's answer exactly once (a provider
        event delivered again, or any answer for a payment already decided, records nothing; an amount
        that does not match is a break for operators)."""
        self.verifier.verify(headers, raw)
        result = ProviderPayment.from_raw(raw)
        answer = ProviderAnswer(
            result.payment_id, result.confirmed, result.reference, result.amount, result.event_id
        )
        recorded = self.outcomes.provider_answered(answer, actor_id=PROVIDER_ACTOR, request_id=request_id)
        data = {
            "event_id": result.event_id,
            "payment_id": result.payment_id,
            "status": recorded.status.value,
            "applied": recorded.applied,
        }
        return Accepted(data, recorded.position)
