"""The cash leg of a DvP settlement: payouts to dealers, the dealer's payment for a SELL and refunds, confirmed
by the payouts provider's signed webhook or a status poll (`bondflow.workers.settlement` holds the shared step logic)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar
from uuid import UUID

from bondflow.adapters import payout_port
from bondflow.adapters.payout_port import PayoutResult, SettlementPayments
from bondflow.adapters.postgres import Database
from bondflow.domain.settlement import (
    PAYMENT_STEP,
    PAYOUT_STEP,
    REFUND_STEP,
    Settlement,
)
from bondflow.errors import PaymentInitiationFailed
from bondflow.runtime.resilience import Retrying
from bondflow.saga.ports import SettlementHandler
from bondflow.workers.settlement import (
    PAYMENT_REFUSED,
    _StepWorker,
    _undone,
    idempotency_key,
)


class PaymentLegWorker(_StepWorker):
    """The cash with dealers: a SELL's dealer payment in, a BUY's payout after delivery, a SELL's refund."""

    name = "settlement_payments"
    requests: ClassVar[dict[str, Any]] = {
        PAYMENT_STEP: Settlement.PaymentInstructed,
        PAYOUT_STEP: Settlement.DealerPayoutInstructed,
        REFUND_STEP: Settlement.DealerRefundInstructed,
    }
    DIRECTIONS: ClassVar[dict[str, str]] = {
        PAYMENT_STEP: "COLLECT_FROM_DEALER",
        PAYOUT_STEP: "PAY_DEALER",
        REFUND_STEP: "REFUND_DEALER",
    }
    CONFIRMS: ClassVar[dict[str, str]] = {
        PAYMENT_STEP: "confirm_payment",
        PAYOUT_STEP: "confirm_payout",
        REFUND_STEP: "confirm_refund",
    }

    def __init__(
        self,
        db: Database,
        commands: SettlementHandler,
        retrying: Retrying,
        payments: SettlementPayments,
        *,
        poll_after: timedelta = timedelta(milliseconds=300),
    ) -> None:
        super().__init__(db, commands, retrying, poll_after=poll_after)
        self.payments = payments

    def perform(self, s: Settlement, step: str, key: str) -> None:
        direction = self.DIRECTIONS[step]

        def call() -> PayoutResult:
            return self.payments.transfer(str(s.id), s.gross, direction, s.dealer, key)

        try:
            result = self.retrying.call(call)
        except PaymentInitiationFailed as refused:
            result = PayoutResult(payout_port.FAILED, "", refused.message)
        if not self.settle(s, step, result, key):
            self.schedule_poll(s, step, key)

    def on_deadline(self, s: Settlement, step: str, key: str, forced_by: str | None) -> None:
        result = self.retrying.call(lambda: self.payments.cancel(key))
        self.settle(s, step, result, key, *_undone(step, forced_by))

    def check(self, s: Settlement, step: str, key: str) -> bool:
        result = self.retrying.call(lambda: self.payments.status(key))
        return result is not None and self.settle(s, step, result, key)

    def done_before_retry(self, s: Settlement, step: str, attempt: int) -> bool:
        """Cancel the previous attempt's key at the provider; True (and reported) if it had in fact paid."""
        previous = idempotency_key(s.id, step, attempt - 1)
        result = self.retrying.call(lambda: self.payments.cancel(previous))
        if result.status == payout_port.CONFIRMED:
            self.commands.report(s.id, self.CONFIRMS[step], previous, reference=result.reference)
            return True
        return False

    def on_webhook(self, sid: UUID, key: str, status: str, reference: str) -> bool:
        """The provider's signed webhook: a confirmation is reported whichever attempt of the current step it
        is for (the money moved); a failure only for the current attempt. A webhook about another step (the
        dealer's payment in, repeated while the settlement now waits for the dealer's refund) records
        nothing: that payment's outcome is already on the settlement, and the refund's is its own."""
        s = self.commands.get(sid)
        step = next((st for st in self.requests if s.at_step(st)), None)
        if step is None or s.terminal or not s.dvp or not self.is_key_of(s, step, key):
            return False
        if status != payout_port.CONFIRMED and key != self.key(s, step):
            return False
        return self.settle(s, step, PayoutResult(status, reference, None), key)

    @staticmethod
    def is_key_of(s: Settlement, step: str, key: str) -> bool:
        """Whether `key` is the idempotency key of one of the attempts of `step` so far."""
        return any(key == idempotency_key(s.id, step, attempt) for attempt in range(s.attempt + 1))

    def settle(
        self, s: Settlement, step: str, result: PayoutResult, key: str, code: str = "", reason: str = ""
    ) -> bool:
        """Report a known outcome; False while the provider has not decided. Only the deadline handler passes
        a `code` (the deadline's): its failure report is the one that counts once the deadline is recorded."""
        if result.status == payout_port.PENDING:
            return False
        if result.status == payout_port.CONFIRMED:
            self.commands.report(s.id, self.CONFIRMS[step], key, reference=result.reference)
            return True
        failure = reason or result.reason or "payment failed"
        if step == PAYMENT_STEP:  # before delivery: undo
            self.commands.report(
                s.id,
                "fail_payment",
                key,
                code=code or PAYMENT_REFUSED,
                reason=failure,
                at_deadline=bool(code),
            )
        else:  # an obligation after delivery (or a refund owed): operators finish it
            self.commands.raise_break(s.id, step, f"{step} not made: {failure}")
        return True
