"""The shared shape of a PostgreSQL read model: its tables created once (under an advisory lock), and each
batch of events applied with the projector's position in the same transaction (exactly once).

A projector applies a batch either set-based (override `apply_batch` with a few multi-row statements per
table: `executemany`, `unnest`, `COPY`) or one event at a time (implement `apply`); the per-event style
runs in a pipeline, so a batch costs one round trip to the server, not one per statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from bondflow.adapters.postgres import Database
from bondflow.runtime import positions
from bondflow.runtime.followers import Positioned

# After a batch its runner waits this long before reading the next. Under load the log grows by a commit at a
# time, and without it each read model took one or two events per batch: a transaction and a position record
# each (at 4 orders/s, 1,020 batches of the regulator stream for 2,120 events). A lone event is still applied
# at once; under load a `min_position` query waits at most this much longer.
LINGER_SECONDS = 0.05


class PostgresProjector:
    """Subclasses set `name`, `topics`, `ddl` and `tables`, and implement `apply_batch` for a batch or
    `apply` for one event. `tables` names each table the read model owns with the columns that order its rows
    (its primary key): `bondflow replay` compares and switches exactly those."""

    name: str
    topics: frozenset[str]
    ddl: str = ""
    tables: ClassVar[dict[str, str]] = {}
    linger_seconds: ClassVar[float] = LINGER_SECONDS
    # a read model is rebuilt from the log: its batches commit without waiting for the disk
    # (`positions.NOT_WAITING`); one whose rows leave the system as they are (the regulator stream) waits
    durable_commits: ClassVar[bool] = False

    def __init__(self, db: Database) -> None:
        self.db = db

    def setup(self) -> None:
        positions.ensure_table(self.db)
        self.db.create_tables(self.name, self.ddl)

    def position(self) -> int:
        return positions.read_position(self.db, self.name)

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        with self.db.transaction() as cur:
            if events:
                self.apply_batch(cur, events)
            positions.record_position(cur, self.name, upto, durable=self.durable_commits)

    def apply_batch(self, cur: Any, events: Sequence[Positioned]) -> None:
        """Apply a batch in the caller's transaction. By default each event through `apply`, pipelined."""
        with cur.connection.pipeline():
            for item in events:
                self.apply(cur, item.event, item.position)

    def apply(self, cur: Any, event: Any, position: int) -> None:
        raise NotImplementedError
