"""The shared shape of a ClickHouse read model: its tables plus a checkpoint table, where the projector
records its log position after each batch (rows are versioned by position, so a replayed batch is harmless)."""

from __future__ import annotations

from bondflow.adapters.clickhouse import ClickHouse

CHECKPOINTS_DDL = """CREATE TABLE IF NOT EXISTS {db}.checkpoints (name String, position UInt64)
    ENGINE = ReplacingMergeTree(position) ORDER BY name"""


class ClickHouseProjector:
    """Subclasses set `name`, `topics` and `ddl`, and implement `process`, ending with `checkpoint(upto)`."""

    name: str
    topics: frozenset[str]
    ddl: tuple[str, ...] = ()

    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    def setup(self) -> None:
        self.ch.ensure_database()
        for statement in (*self.ddl, CHECKPOINTS_DDL):
            self.ch.command(statement)

    def position(self) -> int:
        rows = self.ch.query(
            "SELECT max(position) FROM {db}.checkpoints FINAL WHERE name = {name:String}", {"name": self.name}
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def checkpoint(self, upto: int) -> None:
        self.ch.insert("checkpoints", [[self.name, upto]], ("name", "position"))
