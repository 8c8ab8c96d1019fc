"""The payments effect worker: follows `DepositInitiated` and `WithdrawalRequested` and alone calls the
payments provider, with an idempotency key derived from the event, so a redelivered event (crash, restart,
failover) starts nothing new at the provider. The provider answers by signed webhook.

A refused initiation (`PaymentInitiationFailed`) is recorded on the account as a failed payment (a
withdrawal's amount returns to available). A timeout (`PaymentProviderUnavailable`) propagates: the
follower runner backs off and resumes from this worker's position, calling again with the same key.
"""

from __future__ import annotations

import logging
from typing import Any

from eventsourcing.persistence import IntegrityError

from bondflow.adapters.payments_port import PaymentProvider
from bondflow.adapters.postgres import Database
from bondflow.domain.escrow import EscrowAccount
from bondflow.domain.ids import derived_id
from bondflow.effect_follower import EffectFollower, topic_of
from bondflow.errors import PaymentInitiationFailed
from bondflow.eventstore import EventStore

log = logging.getLogger(__name__)

WORKER = "system:payments"
DEPOSIT_INITIATED = EscrowAccount.DepositInitiated  # type: ignore[attr-defined]
WITHDRAWAL_REQUESTED = EscrowAccount.WithdrawalRequested  # type: ignore[attr-defined]


def idempotency_key_of(event: Any) -> str:
    return str(derived_id("payment-initiate", str(event.originator_id), str(event.originator_version)))


class PaymentEffectWorker(EffectFollower):
    name = "payment_effects"
    topics = frozenset(topic_of(c) for c in (DEPOSIT_INITIATED, WITHDRAWAL_REQUESTED))

    def __init__(self, store: EventStore, db: Database, provider: PaymentProvider) -> None:
        super().__init__(db)
        self.store = store
        self.provider = provider

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
        for _attempt in range(5):
            account: EscrowAccount = self.store.repository.get(event.originator_id)
            if not account.fail_payment(
                event.payment_id, None, None, None, reason, actor_id=WORKER, request_id=key
            ):
                return  # already decided (a redelivery, or the webhook came first)
            try:
                self.store.save(account)
            except IntegrityError:  # the account changed meanwhile: decide again on fresh state
                continue
            log.warning("payment initiation refused", extra={"payment_id": event.payment_id})
            return
        raise RuntimeError(f"escrow account {event.originator_id} kept changing")
