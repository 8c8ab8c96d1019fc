"""The payments effect worker: follows `DepositInitiated` and `WithdrawalRequested` and alone calls the
payments provider, with an idempotency key derived from the event, so a redelivered event (crash, restart,
failover) starts nothing new at the provider. The provider answers by signed webhook.

A refused initiation (`PaymentInitiationFailed`) is recorded through the payment outcome handler as a
failed payment (a withdrawal's amount returns to available). A timeout (`PaymentProviderUnavailable`) propagates: the
follower runner backs off and resumes from this worker's position, calling again with the same key.
"""

from __future__ import annotations

import logging
from typing import Any

from bondflow.adapters.payments_port import PaymentProvider
from bondflow.adapters.postgres import Database
from bondflow.domain.escrow import EscrowAccount
from bondflow.domain.ids import derived_id
from bondflow.errors import PaymentInitiationFailed
from bondflow.runtime.effect_follower import EffectFollower, topic_of
from bondflow.workers.ports import PaymentOutcomeHandler

log = logging.getLogger(__name__)

WORKER = "system:payments"
DEPOSIT_INITIATED = EscrowAccount.DepositInitiated
WITHDRAWAL_REQUESTED = EscrowAccount.WithdrawalRequested


def idempotency_key_of(event: Any) -> str:
    return initiation_key(event.originator_id, event.originator_version)


def initiation_key(account_id: Any, initiated_version: int) -> str:
    """The provider idempotency key of the payment the account's version `initiated_version` started."""
    return str(derived_id("payment-initiate", str(account_id), str(initiated_version)))


class PaymentEffectWorker(EffectFollower):
    name = "payment_effects"
    topics = frozenset(topic_of(c) for c in (DEPOSIT_INITIATED, WITHDRAWAL_REQUESTED))

    def __init__(self, db: Database, provider: PaymentProvider, outcomes: PaymentOutcomeHandler) -> None:
        super().__init__(db)
        self.provider = provider
        self.outcomes = outcomes

    def handle(self, event: Any) -> None:
        self.initiate(event)

    def initiate(self, event: Any) -> None:
        payout = isinstance(event, WITHDRAWAL_REQUESTED)
        key = idempotency_key_of(event)
        try:
            self.provider.initiate(event.payment_id, event.amount, event.method, key, payout=payout)
        except PaymentInitiationFailed as refused:
            self._record_refusal(event, f"{refused.code}: {refused.message}", key)
            return
        log.info("payment initiated", extra={"payment_id": event.payment_id})

    def _record_refusal(self, event: Any, reason: str, key: str) -> None:
        recorded = self.outcomes.initiation_refused(
            event.originator_id, event.payment_id, reason, actor_id=WORKER, request_id=key
        )
        if recorded.applied:  # not applied: already decided (a redelivery, or the webhook came first)
            log.warning("payment initiation refused", extra={"payment_id": event.payment_id})
