"""The settlement effect workers: they alone call the payments and chain adapters, each call keyed by an
idempotency key derived from the settlement and its step (one request event per step), retried with
backoff and jitter behind a circuit breaker. A refusal is reported as the leg's failure; a provider that
stays unavailable raises a break (dead letter); a deadline cancels at the provider whatever is not final
and reports what actually happened (a transfer already final is reported as done, never undone)."""

from __future__ import annotations

import logging
import time
from typing import Any
from uuid import UUID

from bondflow.adapters import chain_port, payout_port
from bondflow.adapters.chain_port import ChainBridge
from bondflow.adapters.payout_port import SettlementPayments
from bondflow.adapters.postgres import Database
from bondflow.domain.ids import derived_id
from bondflow.domain.settlement import PAYMENT_STEP, TOKEN_STEP, Settlement
from bondflow.effect_follower import EffectFollower, topic_of
from bondflow.errors import PaymentInitiationFailed, SettlementTimeout
from bondflow.resilience import RetriesExhausted, Retrying
from bondflow.settlement.commands import SettlementCommands

log = logging.getLogger(__name__)

INSTRUCTED = Settlement.PaymentInstructed  # type: ignore[attr-defined]
TOKEN_REQUESTED = Settlement.TokenTransferRequested  # type: ignore[attr-defined]
EXPIRED = Settlement.DeadlineExpired  # type: ignore[attr-defined]
RETRY = Settlement.RetryRequested  # type: ignore[attr-defined]
CHAIN_REJECTED = "BF-SET-006"
TIMEOUT_CODE = SettlementTimeout.code
FORCE_CANCELLED = "BF-SET-009"


def idempotency_key(sid: UUID, step: str, attempt: int) -> str:
    """One request per settlement, step and operator attempt: a redelivery reuses the key; an operator's
    retry gets a new one only after the previous key was cancelled at the provider (so never both)."""
    return str(derived_id("settlement-effect", str(sid), step, str(attempt)))


class _StepWorker(EffectFollower):
    step = ""
    request: Any = None

    def __init__(self, db: Database, commands: SettlementCommands, retrying: Retrying) -> None:
        super().__init__(db)
        self.commands = commands
        self.retrying = retrying
        self.topics = frozenset(topic_of(c) for c in (self.request, EXPIRED, RETRY))

    def handle(self, event: Any) -> None:
        if isinstance(event, EXPIRED | RETRY) and event.step != self.step:
            return
        settlement = self.commands.get(event.originator_id)
        if settlement.terminal or not settlement.at_step(self.step):
            return  # already decided (a redelivery)
        key = idempotency_key(settlement.id, self.step, settlement.attempt)
        try:
            if isinstance(event, EXPIRED):
                self.on_deadline(settlement, key, event.forced_by)
            elif isinstance(event, RETRY) and self.done_before_retry(settlement, event.attempt):
                return
            else:
                self.perform(settlement, key)
        except RetriesExhausted as exc:
            log.warning("settlement leg broken", extra={"settlement_id": str(settlement.id)})
            self.commands.raise_break(settlement.id, self.step, f"{self.step} provider unavailable: {exc}")

    def done_before_retry(self, settlement: Settlement, attempt: int) -> bool:
        """Cancel the previous attempt's key at the provider; True (and reported) if it had in fact succeeded."""
        previous = idempotency_key(settlement.id, self.step, attempt - 1)
        return self.cancel_previous(settlement, previous)

    def cancel_previous(self, settlement: Settlement, key: str) -> bool:
        raise NotImplementedError

    def perform(self, settlement: Settlement, key: str) -> None:
        raise NotImplementedError

    def on_deadline(self, settlement: Settlement, key: str, forced_by: str | None) -> None:
        raise NotImplementedError


def _undone(step: str, forced_by: str | None) -> tuple[str, str]:
    """The failure code and reason when a step is cancelled at its deadline or by an operator."""
    if forced_by is not None:
        return FORCE_CANCELLED, f"{step} leg force-cancelled by operator {forced_by}"
    return TIMEOUT_CODE, f"{step} leg not final by its deadline"


class PaymentLegWorker(_StepWorker):
    """Pays the dealer (BUY) or collects from the dealer (SELL) for the trade's consideration."""

    name = "settlement_payments"
    step = PAYMENT_STEP
    request = INSTRUCTED

    def __init__(
        self, db: Database, commands: SettlementCommands, retrying: Retrying, payments: SettlementPayments
    ) -> None:
        super().__init__(db, commands, retrying)
        self.payments = payments

    def perform(self, settlement: Settlement, key: str) -> None:
        direction = "PAY_DEALER" if settlement.is_buy else "COLLECT_FROM_DEALER"

        def call() -> payout_port.PayoutResult:
            return self.payments.transfer(
                settlement.trade_id, settlement.consideration, direction, settlement.dealer, key
            )

        try:
            result = self.retrying.call(call)
        except PaymentInitiationFailed as refused:
            result = payout_port.PayoutResult(payout_port.FAILED, "", refused.message)
        self._report(settlement.id, result, key, PaymentInitiationFailed.code)

    def on_deadline(self, settlement: Settlement, key: str, forced_by: str | None) -> None:
        result = self.retrying.call(lambda: self.payments.cancel(key))
        self._report(settlement.id, result, key, *_undone(self.step, forced_by))

    def cancel_previous(self, settlement: Settlement, key: str) -> bool:
        result = self.retrying.call(lambda: self.payments.cancel(key))
        if result.status == payout_port.CONFIRMED:
            self.commands.confirm_payment(settlement.id, result.reference, key)
            return True
        return False

    def _report(
        self, sid: UUID, result: payout_port.PayoutResult, key: str, code: str, reason: str | None = None
    ) -> None:
        if result.status == payout_port.CONFIRMED:
            self.commands.confirm_payment(sid, result.reference, key)
        else:
            self.commands.fail_payment(sid, code, reason or result.reason or "payment failed", key)


class ChainLegWorker(_StepWorker):
    """Transfers the tokens on the chain and waits (briefly) for finality; the deadline covers the rest."""

    name = "settlement_chain"
    step = TOKEN_STEP
    request = TOKEN_REQUESTED

    def __init__(
        self,
        db: Database,
        commands: SettlementCommands,
        retrying: Retrying,
        chain: ChainBridge,
        *,
        finality_wait: float = 2.0,
        poll: float = 0.005,
    ) -> None:
        super().__init__(db, commands, retrying)
        self.chain = chain
        self.finality_wait = finality_wait
        self.poll = poll

    def perform(self, settlement: Settlement, key: str) -> None:
        def submit() -> chain_port.TransferStatus:
            return self.chain.submit(
                settlement.isin, settlement.token_from, settlement.token_to, settlement.qty, key
            )

        status = self.retrying.call(submit)
        give_up = time.monotonic() + self.finality_wait
        while status.status == chain_port.PENDING and time.monotonic() < give_up:
            time.sleep(self.poll)
            status = self.retrying.call(lambda: self.chain.status(key)) or status
        self._report(settlement.id, status, key, CHAIN_REJECTED)

    def on_deadline(self, settlement: Settlement, key: str, forced_by: str | None) -> None:
        status = self.retrying.call(lambda: self.chain.cancel(key))
        self._report(settlement.id, status, key, *_undone(self.step, forced_by))

    def cancel_previous(self, settlement: Settlement, key: str) -> bool:
        status = self.retrying.call(lambda: self.chain.cancel(key))
        if status.status == chain_port.FINAL:
            self.commands.token_transferred(settlement.id, status.tx_hash, key)
            return True
        return False

    def _report(
        self, sid: UUID, status: chain_port.TransferStatus, key: str, code: str, reason: str | None = None
    ) -> None:
        if status.status == chain_port.FINAL:
            self.commands.token_transferred(sid, status.tx_hash, key)
        elif status.status in (chain_port.FAILED, chain_port.CANCELLED):
            failure = reason or status.reason or "token transfer failed"
            self.commands.fail_token_transfer(sid, code, failure, status.tx_hash, key)
        # still PENDING: finality may come later; the step's deadline decides
