"""The shared shape of a PostgreSQL read model: its tables created once (under an advisory lock), and each
batch of events applied with the projector's position in the same transaction (exactly once)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.followers import Positioned
from projections import positions


def event_topic(cls: type) -> str:
    """The stored topic of an event class, as the log records it."""
    return f"{cls.__module__}:{cls.__qualname__}"


class PostgresProjector:
    """Subclasses set `name`, `topics` and `ddl`, and implement `apply` for one event."""

    name: str
    topics: frozenset[str]
    ddl: str = ""

    def __init__(self, db: Database) -> None:
        self.db = db

    def setup(self) -> None:
        positions.ensure_table(self.db)
        with self.db.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"ddl:{self.name}",))
            cur.execute(self.ddl)

    def position(self) -> int:
        return positions.read_position(self.db, self.name)

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        with self.db.transaction() as cur:
            for item in events:
                self.apply(cur, item.event, item.position)
            positions.record_position(cur, self.name, upto)

    def apply(self, cur: Any, event: Any, position: int) -> None:
        raise NotImplementedError
