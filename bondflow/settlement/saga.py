"""The saga follower: follows `TradeExecuted` and every settlement event, asks the pure `decide` what to
do and issues those commands. At-least-once: a redelivered event decides the same commands, which then
record nothing (settlement state guards them; the settlement id derives from the trade id)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.domain.settlement import Settlement
from bondflow.eventstore import EventStore
from bondflow.followers import Positioned
from bondflow.settlement.commands import SettlementCommands, side_of
from bondflow.settlement.decide import EXECUTED, decide
from projections import positions

SAGA_EVENTS = (
    "Started",
    "PaymentConfirmed",
    "PaymentFailed",
    "TokenTransferred",
    "TokenTransferFailed",
    "RefundRequested",
    "Refunded",
)


def topic_of(cls: Any) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class SettlementSaga:
    name = "settlement_saga"
    topics = frozenset({topic_of(EXECUTED), *(topic_of(getattr(Settlement, n)) for n in SAGA_EVENTS)})

    def __init__(self, store: EventStore, db: Database, commands: SettlementCommands) -> None:
        self.store = store
        self.db = db
        self.commands = commands

    def setup(self) -> None:
        positions.ensure_table(self.db)

    def position(self) -> int:
        return positions.read_position(self.db, self.name)

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        for item in events:
            self.handle(item.event)
            with self.db.transaction() as cur:
                positions.record_position(cur, self.name, item.position)
        with self.db.transaction() as cur:
            positions.record_position(cur, self.name, upto)

    def handle(self, event: Any) -> None:
        side = event.side if isinstance(event, EXECUTED) else side_of(self.store, event.originator_id)
        for command in decide(event, side):
            self.commands.execute(command)
