"""What the provider, the clock or an operator says about a payment, recorded on its escrow account
exactly once: the provider's answer (webhook or status query: confirmed / failed, a mismatch is a break),
the deadline passing with no answer (a break), a payment the provider never received (failed), and an
operator's resolution of a break. Each loads the account, lets the aggregate decide, and saves; a
concurrent change of the account makes it decide again on fresh state.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from bondflow.domain.escrow import (
    DEADLINE_BREAK,
    ZERO,
    EscrowAccount,
    Payment,
    escrow_id_of_payment,
    paise,
)
from bondflow.domain.policy import ensure_not_own_payment
from bondflow.domain.values import exact_decimal
from bondflow.errors import NotFound
from bondflow.runtime.eventstore import EventStore, position_of
from bondflow.workers.ports import RECONCILER, ProviderAnswer, Recorded
from commands.investors.users import only_fields
from commands.kernel.conflicts import decide_and_save
from commands.payments.escrow import EscrowService

__all__ = ["RECONCILER", "PaymentOutcomes", "ProviderAnswer", "Recorded", "bank_amount_from"]


def bank_amount_from(body: dict[str, Any]) -> Decimal | None:
    """`{}` (ask the provider again) or `{"bank_amount": "…"}` (what the bank statement shows; 0: nothing)."""
    only_fields(body, {"bank_amount"}, set())
    if "bank_amount" not in body:
        return None
    value = exact_decimal(body["bank_amount"], "bank_amount")
    return ZERO if value == 0 else paise(value, "bank_amount")


class PaymentOutcomes:
    def __init__(self, store: EventStore, escrow: EscrowService) -> None:
        self.store = store
        self.escrow = escrow

    def payment(self, payment_id: str) -> tuple[EscrowAccount, Payment]:
        account_id = escrow_id_of_payment(payment_id)
        account = None if account_id is None else self.escrow.find(account_id)
        if account is None:
            raise NotFound("payment not found", {"payment_id": payment_id})
        return account, account.payment(payment_id)

    def _in(self, account_id: UUID, payment_id: str) -> tuple[EscrowAccount, Payment]:
        account = self.escrow.find(account_id)
        if account is None:
            raise NotFound("payment not found", {"payment_id": payment_id})
        return account, account.payment(payment_id)

    def provider_answered(self, answer: ProviderAnswer, *, actor_id: str, request_id: str) -> Recorded:
        def record(account: EscrowAccount) -> bool:
            if answer.confirmed and answer.amount is not None:
                return account.confirm_payment(
                    answer.payment_id,
                    answer.reference,
                    answer.amount,
                    answer.provider_event_id or "",
                    actor_id=actor_id,
                    request_id=request_id,
                )
            return account.fail_payment(
                answer.payment_id,
                answer.reference,
                answer.amount,
                answer.provider_event_id,
                "provider reported FAILED",
                actor_id=actor_id,
                request_id=request_id,
            )

        return self._record(answer.payment_id, record)

    def initiation_refused(
        self, account_id: UUID, payment_id: str, reason: str, *, actor_id: str, request_id: str
    ) -> Recorded:
        """The provider refused to start the payment: failed (a withdrawal's amount returns to available).
        The account is named by the event that started it (its payment id need not name the account)."""
        return self._record(
            payment_id,
            lambda account: account.fail_payment(
                payment_id, None, None, None, reason, actor_id=actor_id, request_id=request_id
            ),
            account_id,
        )

    def deadline_passed(self, payment_id: str, reason: str, *, request_id: str) -> Recorded:
        """No final answer by the deadline: a break for operators (nothing moves)."""
        return self._record(
            payment_id,
            lambda account: account.raise_break(
                payment_id, None, None, None, reason, actor_id=RECONCILER, request_id=request_id
            ),
        )

    def never_received(self, payment_id: str, *, request_id: str) -> Recorded:
        """Past its deadline the provider had no record of it and cancelled the key: it can never move."""
        reason = f"{DEADLINE_BREAK}: the provider never received it and cancelled it"
        return self._record(
            payment_id,
            lambda account: account.fail_payment(
                payment_id, None, None, None, reason, actor_id=RECONCILER, request_id=request_id
            ),
        )

    def resolve(
        self,
        payment_id: str,
        answer: ProviderAnswer | None,
        bank_amount: Decimal | None,
        *,
        operator: str,
        request_id: str,
    ) -> Recorded:
        """An operator settles a break against the provider's final answer (None: it has none yet)."""

        def record(account: EscrowAccount) -> bool:
            ensure_not_own_payment(operator, account.user_id)
            account.resolve_break(
                payment_id,
                provider_confirmed=None if answer is None else answer.confirmed,
                provider_amount=None if answer is None else answer.amount,
                reference=None if answer is None else answer.reference,
                provider_event_id=None if answer is None else answer.provider_event_id,
                bank_amount=bank_amount,
                actor_id=operator,
                request_id=request_id,
            )
            return True

        return self._record(payment_id, record)

    def _record(
        self, payment_id: str, decide: Callable[[EscrowAccount], bool], account_id: UUID | None = None
    ) -> Recorded:
        def attempt() -> Recorded:
            account, payment = (
                self.payment(payment_id) if account_id is None else self._in(account_id, payment_id)
            )
            if not decide(account):  # refusals raise domain errors and record nothing
                position = position_of(self.store, account.id, account.version) or 0
                return Recorded(False, payment.status, position)
            position = self.store.save_and_position(account)
            return Recorded(True, payment.status, position)

        return decide_and_save(attempt, what="the escrow account", details={"payment_id": payment_id})
