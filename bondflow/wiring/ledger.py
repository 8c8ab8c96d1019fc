"""The ledger context's services, built once by the composition root: the escrow bank's own book (the
sandbox providers write to it), the poster that records journal entries, and the reconciler."""

from __future__ import annotations

from dataclasses import dataclass

from bondflow.adapters.escrow_bank import EscrowBank
from bondflow.adapters.postgres import Database
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore
from commands.ledger.poster import LedgerPoster
from commands.ledger.reconcile import Reconciler


@dataclass
class Ledgering:
    bank: EscrowBank
    poster: LedgerPoster
    reconciler: Reconciler


def build_ledger(db: Database, store: EventStore, clock: Clock) -> Ledgering:
    bank = EscrowBank(db, clock)
    bank.setup()
    return Ledgering(bank, LedgerPoster(store, db), Reconciler(store, db, bank))
