"""Reconcile one value date: the escrow bank's statement against the ledger's `bank:escrow` lines.

Idempotent: a run records `Reconciliation.ReconciliationCompleted` only when it finds something other
than the last run of that date did, so running it twice changes nothing. The ledger side is the ledger
read model, so a caller that must see every entry waits for `ledger_view` first (`bondflow reconcile`
does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from bondflow.adapters.escrow_bank import EscrowBank
from bondflow.adapters.postgres import Database
from bondflow.domain.reconciliation import Matching, Reconciliation, match, reconciliation_id
from bondflow.runtime.eventstore import EventStore
from commands.kernel.conflicts import decide_and_save
from projections.ledger import projector as ledger_view


@dataclass(frozen=True)
class ReconciliationReport:
    matching: Matching
    recorded: bool  # this run recorded a ReconciliationCompleted (False: the same as the last run)
    runs: int
    bank_balance: Decimal
    ledger_balance: Decimal

    def as_dict(self) -> dict[str, Any]:
        m = self.matching
        return {
            "date": m.value_date,
            "statement_lines": m.statement_lines,
            "ledger_lines": m.ledger_lines,
            "matched": m.matched,
            "bank_breaks": m.bank_breaks,
            "ledger_breaks": m.ledger_breaks,
            "breaks": [b.as_dict() for b in m.breaks],
            "closing_balance": {"bank": self.bank_balance, "ledger": self.ledger_balance},
            "reconciled": not m.breaks and self.bank_balance == self.ledger_balance,
            "recorded": self.recorded,
            "runs": self.runs,
        }


class Reconciler:
    def __init__(self, store: EventStore, db: Database, bank: EscrowBank) -> None:
        self.store = store
        self.db = db
        self.bank = bank

    def reconcile(self, value_date: date, *, actor_id: str, request_id: str) -> ReconciliationReport:
        result = match(
            value_date, self.bank.statement(value_date), ledger_view.bank_lines(self.db, value_date)
        )

        def attempt() -> ReconciliationReport:
            day = self._load(value_date, actor_id, request_id)
            recorded = day.complete(result, actor_id=actor_id, request_id=request_id)
            if recorded:
                self.store.save(day)  # another run recording at the same time collides: decide again
            return ReconciliationReport(
                result,
                recorded,
                day.runs,
                self.bank.balance(value_date),
                ledger_view.bank_balance(self.db, value_date),
            )

        return decide_and_save(attempt, what="the reconciliation", details={"date": str(value_date)})

    def _load(self, value_date: date, actor_id: str, request_id: str) -> Reconciliation:
        try:
            found: Reconciliation = self.store.repository.get(reconciliation_id(value_date))
        except AggregateNotFoundError:
            return Reconciliation.start(value_date, actor_id=actor_id, request_id=request_id)
        return found
