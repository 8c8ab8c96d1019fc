"""Payment commands: deposit and withdraw (Idempotency-Key required), and the provider's signed webhook.

A payment's id derives from (user, kind, Idempotency-Key) and the request fingerprint is stored on its
first event, so a retry is answered as a replay (409), another body under the same key is refused (422),
and concurrent requests collide on the account's version: exactly one effect.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from bondflow.domain.escrow import (
    EscrowAccount,
    Payment,
    PaymentKind,
    PaymentMethod,
    escrow_id_of_payment,
    paise,
    payment_amount,
    payment_id_for,
)
from bondflow.domain.values import exact_decimal
from bondflow.errors import IdempotencyKeyReused, InvalidRequest, NotFound
from bondflow.eventstore import EventStore, position_of
from bondflow.webhooks import WebhookVerifier
from commands.context import Accepted, CommandContext
from commands.escrow import EscrowService
from commands.idempotency import InFlightGuard, fingerprint, require_key
from commands.users import only_fields

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
        try:
            body = json.loads(raw, parse_float=Decimal, parse_constant=_no_constants)
        except (ValueError, RecursionError, UnicodeDecodeError) as exc:
            raise InvalidRequest(
                "webhook body is not valid JSON", {"fields": {"body": "invalid JSON"}}
            ) from exc
        if not isinstance(body, dict):
            raise InvalidRequest(
                "webhook body must be a JSON object", {"fields": {"body": "expected an object"}}
            )
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


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


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
        with self.guard.hold("payments", ctx.actor_id, key):
            for _attempt in range(3):
                account = self.escrow.load(ctx.actor_id, actor_id=ctx.actor_id, request_id=ctx.request_id)
                existing = account.payments.get(payment_id)
                if existing is not None:
                    return self._replay(account, existing, request_fingerprint)
                start(account, payment_id, request_fingerprint)  # refuses (raises) before recording anything
                try:
                    position = self.store.save_and_position(account)
                except IntegrityError:  # the account changed meanwhile (an order, a webhook): decide again
                    continue
                return Accepted({"payment_id": payment_id, "status": "INITIATED"}, position)
        raise InvalidRequest("escrow account is changing concurrently; retry", {"payment_id": payment_id})

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
        event delivered again, or any answer for a payment already decided, records nothing)."""
        self.verifier.verify(headers, raw)
        result = ProviderPayment.from_raw(raw)
        account_id = escrow_id_of_payment(result.payment_id)
        for _attempt in range(3):
            account = self._account(account_id, result.payment_id)
            payment = account.payment(result.payment_id)
            if result.confirmed:
                applied = account.confirm_payment(
                    result.payment_id,
                    result.reference,
                    result.amount,
                    result.event_id,
                    actor_id=PROVIDER_ACTOR,
                    request_id=request_id,
                )
            else:
                applied = account.fail_payment(
                    result.payment_id,
                    result.reference,
                    result.amount,
                    result.event_id,
                    "provider reported FAILED",
                    actor_id=PROVIDER_ACTOR,
                    request_id=request_id,
                )
            if not applied:
                position = position_of(self.store, account.id, account.version) or 0
            else:
                try:
                    position = self.store.save_and_position(account)
                except IntegrityError:  # the same event delivered concurrently: decide again on fresh state
                    continue
            data = {
                "event_id": result.event_id,
                "payment_id": result.payment_id,
                "status": payment.status.value,
                "applied": applied,
            }
            return Accepted(data, position)
        raise InvalidRequest(
            "escrow account is changing concurrently; retry", {"payment_id": result.payment_id}
        )

    def _account(self, account_id: UUID | None, payment_id: str) -> EscrowAccount:
        account = None if account_id is None else self.escrow.find(account_id)
        if account is None:
            raise NotFound("payment not found", {"payment_id": payment_id})
        return account
