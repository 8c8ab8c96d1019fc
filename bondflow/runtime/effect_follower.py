"""The base of every follower whose work is effects (commands, adapter calls) rather than a read model: the
saga, the settlement legs, the execution, KYC and payment workers.

Each event is handled, then its position recorded, so a crash repeats at most the event in hand; handlers
are idempotent (derived ids, idempotency keys, aggregate state guards), so the repeat changes nothing.

A follower that sets `in_flight` above 1 hands its events to a bounded pool instead (`InFlight`): events of
different aggregates (`aggregate_of`) are handled concurrently, one aggregate's in log order, and the
position recorded is the watermark below which every event is done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.utils import get_topic

from bondflow.adapters.postgres import Database
from bondflow.runtime import positions, tracing
from bondflow.runtime.effects_in_flight import InFlight
from bondflow.runtime.followers import Positioned

topic_of = get_topic  # the topic an event class is stored under (`module:QualName`): the library's own


class EffectFollower:
    name = ""
    topics: frozenset[str] = frozenset()
    in_flight = 1  # events handled at once (of different aggregates); 1: one at a time, in log order

    def __init__(self, db: Database) -> None:
        self.db = db
        self._flight: InFlight | None = None

    def setup(self) -> None:
        positions.ensure_table(self.db)

    def position(self) -> int:
        return positions.read_position(self.db, self.name)

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        if self.in_flight > 1:
            self._submit(events, upto)
            return
        for item in events:
            self._traced(item.event)
            with self.db.transaction() as cur:
                positions.record_position(cur, self.name, item.position)
        with self.db.transaction() as cur:
            positions.record_position(cur, self.name, upto)

    def handle(self, event: Any) -> None:
        raise NotImplementedError

    def _traced(self, event: Any) -> None:
        """Handle `event` in a span that continues the trace of the request that wrote it."""
        with tracing.continued(event, f"{self.name} {type(event).__qualname__}"):
            self.handle(event)

    def aggregate_of(self, event: Any) -> Any:
        """The key whose work stays in order (by default the event's aggregate)."""
        return event.originator_id

    def _submit(self, events: Sequence[Positioned], upto: int) -> None:
        if self._flight is None:
            self._flight = InFlight(self.name, self._traced, self._record, limit=self.in_flight)
        for item in events:
            self._flight.submit(self.aggregate_of(item.event), item.position, item.event)
        self._flight.scanned(upto)

    def _record(self, position: int) -> None:
        with self.db.transaction() as cur:
            positions.advance_position(cur, self.name, position)

    def close(self) -> None:
        """Let the events in flight finish."""
        if self._flight is not None:
            self._flight.close()
            self._flight = None
