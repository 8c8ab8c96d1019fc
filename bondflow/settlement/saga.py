"""The saga follower: follows `TradeExecuted` and every settlement event, asks the pure `decide` what to
do and issues those commands. At-least-once: a redelivered event decides the same commands, which then
record nothing (settlement state guards them; the settlement id derives from the trade id)."""

from __future__ import annotations

from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.domain.settlement import Settlement
from bondflow.effect_follower import EffectFollower, topic_of
from bondflow.eventstore import EventStore
from bondflow.settlement.commands import SettlementCommands, side_of
from bondflow.settlement.decide import EXECUTED, decide

SAGA_EVENTS = (
    "Started",
    "PaymentConfirmed",
    "PaymentFailed",
    "TokenTransferred",
    "TokenTransferFailed",
    "RefundRequested",
    "Refunded",
)


class SettlementSaga(EffectFollower):
    name = "settlement_saga"
    topics = frozenset({topic_of(EXECUTED), *(topic_of(getattr(Settlement, n)) for n in SAGA_EVENTS)})

    def __init__(self, store: EventStore, db: Database, commands: SettlementCommands) -> None:
        super().__init__(db)
        self.store = store
        self.commands = commands

    def handle(self, event: Any) -> None:
        side = event.side if isinstance(event, EXECUTED) else side_of(self.store, event.originator_id)
        for command in decide(event, side):
            self.commands.execute(command)
