"""Where each Postgres projector is in the log; written in the same transaction as its rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bondflow.adapters.postgres import Database

POSITIONS_CHANNEL = (
    "bondflow_positions"  # each recorded position is announced here (bondflow.runtime.position_waits)
)

DDL = """
CREATE TABLE IF NOT EXISTS projection_positions (
    name text PRIMARY KEY,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""


def ensure_table(db: Database) -> None:
    with db.transaction() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended('ddl:projection_positions', 0))")
        cur.execute(DDL)


def read_position(db: Database, name: str) -> int:
    with db.cursor() as cur:
        row = cur.execute("SELECT position FROM projection_positions WHERE name = %s", (name,)).fetchone()
    return int(row[0]) if row else 0


class PositionMoved(RuntimeError):
    """The recorded position changed under a runner (a replay switched a rebuilt table in): the batch rolls
    back and the runner starts again from the recorded position."""


_runs = threading.local()


@contextmanager
def following_from(name: str, position: int) -> Iterator[None]:
    """While a runner applies a batch it read from `position`, `record_position` for `name` succeeds only
    if the recorded position is still the one the runner started from, and then moves that mark on."""
    marks: dict[str, int] = getattr(_runs, "marks", None) or {}
    _runs.marks = marks
    marks[name] = position
    try:
        yield
    finally:
        marks.pop(name, None)


def record_position(cur: Any, name: str, position: int) -> None:
    """Advance `name` to `position` inside the caller's transaction; refuses to move backwards."""
    marks: dict[str, int] = getattr(_runs, "marks", None) or {}
    expected = marks.get(name)
    if expected is not None:
        row = cur.execute(
            "SELECT position FROM projection_positions WHERE name = %s FOR UPDATE", (name,)
        ).fetchone()
        recorded = int(row[0]) if row else 0
        if recorded != expected:
            raise PositionMoved(f"{name}: recorded position is {recorded}, the batch began at {expected}")
        marks[name] = max(expected, position)
    advance_position(cur, name, position)


def advance_position(cur: Any, name: str, position: int) -> None:
    """Move `name` forward to `position` (never back) without the check `following_from` sets up: for
    followers whose position is a watermark their own workers advance (effects in flight)."""
    cur.execute(
        "INSERT INTO projection_positions (name, position) VALUES (%s, %s) "
        "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now() "
        "WHERE projection_positions.position < EXCLUDED.position",
        (name, position),
    )
    cur.execute("SELECT pg_notify(%s, %s)", (POSITIONS_CHANNEL, f"{name}:{position}"))  # sent at commit
