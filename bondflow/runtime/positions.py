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


# One round trip for what took three (read the recorded position, advance it, announce it): every follower
# batch records its position, and those statements were most of the statements PostgreSQL ran under load.
ADVANCE = """
WITH moved AS (
    INSERT INTO projection_positions (name, position) VALUES (%(name)s, %(position)s)
    ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
    WHERE projection_positions.position < EXCLUDED.position
    RETURNING 1
)
SELECT NULL::bigint, pg_notify(%(channel)s, %(payload)s){commit}
"""
CHECK_AND_ADVANCE = """
WITH recorded AS (SELECT position FROM projection_positions WHERE name = %(name)s FOR UPDATE),
moved AS (
    INSERT INTO projection_positions (name, position) VALUES (%(name)s, %(position)s)
    ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()
    WHERE projection_positions.position < EXCLUDED.position
    RETURNING 1
)
SELECT (SELECT position FROM recorded), pg_notify(%(channel)s, %(payload)s){commit}
"""

# A read model's batch may commit without waiting for its WAL to reach the disk (`durable=False`): a crash
# of the PostgreSQL server can then lose the last fraction of a second of such commits, never part of one
# (rows and position go together), so the read model resumes from an earlier position and builds the same
# rows again from the log, which is durable. Any durable commit after it (every append to the log) flushes
# it too. Effects and the log's own writes always wait for the disk.
NOT_WAITING = ", set_config('synchronous_commit', 'off', true)"
STATEMENTS = {
    (check, durable): template.replace("{commit}", "" if durable else NOT_WAITING)
    for check, template in ((False, ADVANCE), (True, CHECK_AND_ADVANCE))
    for durable in (True, False)
}


def record_position(cur: Any, name: str, position: int, *, durable: bool = True) -> None:
    """Advance `name` to `position` inside the caller's transaction; refuses to move backwards. Within
    `following_from`, refuses (`PositionMoved`, so the caller's transaction rolls back, the advance with
    it) if the recorded position is no longer the one the batch began at. With `durable=False` the
    transaction commits without waiting for the disk (`NOT_WAITING`: read models only)."""
    marks: dict[str, int] = getattr(_runs, "marks", None) or {}
    expected = marks.get(name)
    if expected is None:
        cur.execute(STATEMENTS[False, durable], _arguments(name, position))
        return
    row = cur.execute(STATEMENTS[True, durable], _arguments(name, position)).fetchone()
    recorded = int(row[0]) if row and row[0] is not None else 0
    if recorded != expected:
        raise PositionMoved(f"{name}: recorded position is {recorded}, the batch began at {expected}")
    marks[name] = max(expected, position)


def advance_position(cur: Any, name: str, position: int) -> None:
    """Move `name` forward to `position` (never back) without the check `following_from` sets up: for
    followers whose position is a watermark their own workers advance (effects in flight)."""
    cur.execute(STATEMENTS[False, True], _arguments(name, position))  # the announcement is sent at commit


def _arguments(name: str, position: int) -> dict[str, object]:
    return {"name": name, "position": position, "channel": POSITIONS_CHANNEL, "payload": f"{name}:{position}"}
