"""The shared shape of a ClickHouse read model: its tables plus a checkpoint table, where the projector
records its log position (rows are versioned by position and read with FINAL, so a replayed batch is
harmless: it writes the same rows, or older versions that the newer ones win over).

The checkpoint is not inserted with every batch: every insert is a new part in ClickHouse, and those
checkpoint inserts were about a sixth of the API process's CPU under load. The position is kept exact in
memory and stored at most every `CHECKPOINT_SECONDS` (and when the projector stops); a crash before that
makes the next leader apply at most that much of the log again, which changes nothing."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from bondflow.adapters.clickhouse import ClickHouse
from bondflow.runtime.followers import Positioned

CHECKPOINT_SECONDS = 1.0
# After a batch its runner waits this long before the next: each insert is a new part whatever its size,
# so under load the analytics followers write a few large batches a second instead of one per wake-up
# (they were about a fifth of the API process's CPU at 8 orders/s). A `min_position` query on them waits
# at most this much longer.
LINGER_SECONDS = 0.5

# A rebuild hands it batches of at least this many events (`bondflow.wiring.replay_lanes.Lanes`): the order
# flow took 9.5 µs an event in batches of 2,000 and 5.9 µs in batches of 20,000 (2026-12-03)
REBUILD_BATCH_EVENTS = 20_000

CHECKPOINTS_DDL = """CREATE TABLE IF NOT EXISTS {db}.checkpoints (name String, position UInt64)
    ENGINE = ReplacingMergeTree(position) ORDER BY name"""


class ClickHouseProjector:
    """Subclasses set `name`, `topics`, `ddl` and `tables` (each table → its ORDER BY key, what `bondflow
    replay` compares), and implement `process`, ending with `checkpoint(upto)`."""

    name: str
    topics: frozenset[str]
    ddl: tuple[str, ...] = ()
    tables: ClassVar[dict[str, str]] = {}
    linger_seconds: ClassVar[float] = LINGER_SECONDS
    rebuild_batch_events: ClassVar[int] = REBUILD_BATCH_EVENTS

    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch
        self._unsaved: int | None = None  # a position reached by batches that wrote nothing, not yet stored
        self._saved_at = 0.0

    def setup(self) -> None:
        self.ch.ensure_database()
        for statement in (*self.ddl, CHECKPOINTS_DDL):
            self.ch.command(statement)

    def position(self) -> int:
        if self._unsaved is not None:
            return self._unsaved
        rows = self.ch.query(
            "SELECT max(position) FROM {db}.checkpoints FINAL WHERE name = {name:String}", {"name": self.name}
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        raise NotImplementedError

    def checkpoint(self, upto: int) -> None:
        """The batch up to `upto` is written: remember it, and store it if the last store is a second old."""
        if time.monotonic() - self._saved_at < CHECKPOINT_SECONDS:
            self._unsaved = upto
            return
        self._store(upto)

    def close(self) -> None:
        """A stopping leader stores where it got to (the runner calls this after its last batch)."""
        if self._unsaved is not None:
            self._store(self._unsaved)

    def _store(self, upto: int) -> None:
        self.ch.insert("checkpoints", [[self.name, upto]], ("name", "position"))
        self._unsaved, self._saved_at = None, time.monotonic()
