"""What the coupon job records, through one handler (ARCHITECTURE §4: workers report through handlers):
token movements it made on the chain, a corporate action scheduled, its holders of record, the payouts
and its completion. Every record is idempotent (ids derive from ISIN, kind, date and the chain's
idempotency key), so a second copy of the job or a crash repaired by the next tick records nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from bondflow.domain.corporate_actions import CorporateAction, corporate_action_id
from bondflow.domain.entitlement import Entitlement
from bondflow.domain.tokens import TokenMovement
from bondflow.runtime.eventstore import EventStore
from commands.corporate_actions.payouts import JOB, IssuerCoupons, Payouts
from commands.kernel.loading import load_or_none

log = logging.getLogger(__name__)


class CorporateActionCommands:
    def __init__(self, store: EventStore, payouts: Payouts) -> None:
        self.store = store
        self.payouts = payouts

    def record_movement(
        self, kind: str, *, isin: str, wallet: str, qty: Decimal, tx_hash: str, key: str, reason: str
    ) -> None:
        """A mint or burn the chain made (`tx_hash`), recorded once per idempotency key."""
        movement = TokenMovement.record(
            kind,
            isin=isin,
            wallet=wallet,
            qty=qty,
            tx_hash=tx_hash,
            idempotency_key=key,
            reason=reason,
            actor_id=JOB,
            request_id=key,
        )
        self._save_once(movement)

    def find(self, action_id: UUID) -> CorporateAction | None:
        return load_or_none(self.store.repository, action_id, CorporateAction)

    def open(self, entitlement: Entitlement, *, issuer: str, rating_bucket: str) -> CorporateAction:
        """The action for this entitlement, scheduled now if it was not yet."""
        action_id = corporate_action_id(entitlement.isin, entitlement.kind, entitlement.scheduled_on)
        found = self.find(action_id)
        if found is not None:
            return found
        action = CorporateAction.schedule(
            entitlement,
            issuer=issuer,
            rating_bucket=rating_bucket,
            actor_id=JOB,
            request_id=f"ca:{action_id}",
        )
        self._save_once(action)
        return self.payouts.load(action_id)

    def record_holders(self, action: CorporateAction, holders: Mapping[str, Decimal]) -> CorporateAction:
        action.record_holders(dict(holders), actor_id=JOB, request_id=f"ca:{action.id}:holders")
        self._save_once(action)
        return self.payouts.load(action.id)

    def pay_all(self, action: CorporateAction, issuer_coupons: IssuerCoupons) -> CorporateAction:
        return self.payouts.pay_all(action, issuer_coupons)

    def complete(self, action: CorporateAction) -> None:
        if action.complete(actor_id=JOB, request_id=f"ca:{action.id}:completed"):
            self._save_once(action)

    def _save_once(self, aggregate: Any) -> None:
        try:
            self.store.save(aggregate)
        except IntegrityError:
            log.debug("already recorded: %s", aggregate.id)  # a concurrent copy or an earlier run did it
