"""The ledger poster: a write-side policy that follows every money-moving event (`postings.POSTINGS`) and
records its journal entry (it calls no provider, so it is a command-side follower, not an effect worker).

Exactly once per source event whatever is redelivered: the entry's id derives from the source event, so a
second posting collides in the event store and records nothing. A batch's entries are saved together;
if some were already posted (a crash after saving, before the position moved), each is saved alone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from bondflow.adapters.postgres import Database
from bondflow.domain.escrow import EscrowAccount
from bondflow.domain.ledger import JournalEntry
from bondflow.domain.ledger_postings import POSTINGS, SettlementFacts, draft_for
from bondflow.domain.settlement import Settlement, settlement_id
from bondflow.runtime import positions
from bondflow.runtime.clock import IST
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Positioned

log = logging.getLogger(__name__)


class StoreFacts:
    """What the postings need beyond the event, read from the log (and cached: none of it changes)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._owners: dict[UUID, str] = {}
        self._settlements: dict[UUID, SettlementFacts] = {}

    def owner_of_escrow(self, account_id: UUID) -> str:
        owner = self._owners.get(account_id)
        if owner is None:
            account: EscrowAccount = self.store.repository.get(account_id, version=1)
            owner = self._owners[account_id] = account.user_id
        return owner

    def payment_amount(self, account_id: UUID, payment_id: str, before_version: int) -> Decimal:
        account: EscrowAccount = self.store.repository.get(account_id, version=before_version - 1)
        return account.payment(payment_id).amount

    def settlement(self, settlement_id: UUID) -> SettlementFacts:
        facts = self._settlements.get(settlement_id)
        if facts is None:
            s: Settlement = self.store.repository.get(settlement_id, version=1)
            dvp = bool(getattr(s, "dvp", False))
            facts = SettlementFacts(s.trade_id, s.user_id, s.side, s.dealer, s.consideration, dvp)
            self._settlements[settlement_id] = facts
        return facts

    def is_dvp_trade(self, trade_id: str) -> bool:
        try:
            return self.settlement(settlement_id(trade_id)).dvp
        except AggregateNotFoundError:  # not a settled trade's credit
            return False


def entry_for(event: Any, facts: StoreFacts) -> JournalEntry | None:
    draft = draft_for(event, facts)
    if draft is None:
        return None
    return JournalEntry.post(
        kind=draft.kind,
        reference=draft.reference,
        value_date=event.timestamp.astimezone(IST).date(),
        source_topic=f"{type(event).__module__}:{type(event).__qualname__}",
        source_id=event.originator_id,
        source_version=event.originator_version,
        lines=draft.lines,
        memo=draft.memo,
    )


class LedgerPoster:
    name = "ledger_poster"
    topics = frozenset(POSTINGS)
    linger_seconds = 0.05  # as the read models (projections.base.postgres): fewer, larger batches under load

    def __init__(self, store: EventStore, db: Database) -> None:
        self.store = store
        self.db = db
        self.facts = StoreFacts(store)

    def setup(self) -> None:
        positions.ensure_table(self.db)

    def position(self) -> int:
        return positions.read_position(self.db, self.name)

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        entries = self._entries(events)
        if entries:
            try:
                self.store.save(*entries)
            except IntegrityError:  # some were posted before a crash: post the rest one by one
                for entry in self._entries(events):  # afresh: a failed save has taken the pending events
                    self._save_once(entry)
        with self.db.transaction() as cur:
            positions.record_position(cur, self.name, upto)

    def _entries(self, events: Sequence[Positioned]) -> list[JournalEntry]:
        return [e for e in (entry_for(item.event, self.facts) for item in events) if e is not None]

    def _save_once(self, entry: JournalEntry) -> None:
        try:
            self.store.save(entry)
        except IntegrityError:
            log.debug("journal entry %s already posted", entry.id)
