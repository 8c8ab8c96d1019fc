"""The saga follower: follows `TradeExecuted` and every settlement event, asks the pure `decide` what to
do and issues those commands. At-least-once: a redelivered event decides the same commands, which then
record nothing (settlement state guards them; the settlement id derives from the trade id).

Each command loads the settlement as of the event in hand (`read_together.knowing`): no query for what the
saga was just given; a save on a settlement that has moved on since collides and is decided again on a
fresh read.

With `in_flight` above 1 (`BONDFLOW_SETTLEMENT_IN_FLIGHT`) many settlements are decided at once, each
settlement's events in log order (one lane per settlement)."""

from __future__ import annotations

from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.domain.settlement import Settlement, settlement_id
from bondflow.runtime.effect_follower import EffectFollower, topic_of
from bondflow.runtime.read_together import knowing
from bondflow.saga.decide import EXECUTED, NEXT, decide
from bondflow.saga.ports import SettlementHandler

SAGA_EVENTS = tuple(NEXT)  # every event after which the saga decides a next step


class SettlementSaga(EffectFollower):
    name = "settlement_saga"
    topics = frozenset({topic_of(EXECUTED), *(topic_of(getattr(Settlement, n)) for n in SAGA_EVENTS)})

    def __init__(self, db: Database, commands: SettlementHandler) -> None:
        super().__init__(db)
        self.commands = commands
        self._sides: dict[Any, str] = {}  # a settlement's side never changes: read it once

    def aggregate_of(self, event: Any) -> Any:
        """One lane per settlement: a trade's `TradeExecuted` goes where its settlement's events go."""
        return settlement_id(str(event.originator_id)) if isinstance(event, EXECUTED) else event.originator_id

    def handle(self, event: Any) -> None:
        if isinstance(event, EXECUTED):
            for command in decide(event, event.side):
                self.commands.execute(command)
            return
        side = self._side(event.originator_id)
        with knowing(event):  # the settlement as of this event, without reading it again (read_together)
            for command in decide(event, side):
                self.commands.execute(command)

    def _side(self, sid: Any) -> str:
        side = self._sides.get(sid)
        if side is None:
            if len(self._sides) > 100_000:  # bounded: settlements long done need not stay
                self._sides.clear()
            side = self._sides[sid] = self.commands.side_of(sid)
        return side
