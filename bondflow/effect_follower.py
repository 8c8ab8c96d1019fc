"""The base of every follower whose work is effects (commands, adapter calls) rather than a read model: the
saga, the settlement legs, the execution, KYC and payment workers.

Each event is handled, then its position recorded, so a crash repeats at most the event in hand; handlers
are idempotent (derived ids, idempotency keys, aggregate state guards), so the repeat changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.followers import Positioned
from projections import positions


def topic_of(cls: Any) -> str:
    """The topic an event class is stored under (`module:QualName`)."""
    return f"{cls.__module__}:{cls.__qualname__}"


class EffectFollower:
    name = ""
    topics: frozenset[str] = frozenset()

    def __init__(self, db: Database) -> None:
        self.db = db

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
        raise NotImplementedError
