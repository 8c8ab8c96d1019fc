"""Polls scheduled on the timer: an effect worker that submitted a request whose outcome is not known yet
(a hold execution waiting for finality, a payout waiting for its webhook) records when to ask again and
returns; the deadline timer asks when the time has come, with a growing interval. Rows are the workers'
own bookkeeping (not domain state): losing one only means the step's deadline decides."""

from __future__ import annotations

import threading
import weakref
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from bondflow.adapters.postgres import Database

DDL = """
CREATE TABLE IF NOT EXISTS settlement_polls (
    settlement_id uuid NOT NULL,
    step text NOT NULL,
    key text NOT NULL,
    due_at timestamptz NOT NULL,
    tries integer NOT NULL DEFAULT 0,
    PRIMARY KEY (settlement_id, step, key)
);
CREATE INDEX IF NOT EXISTS settlement_polls_due ON settlement_polls (due_at);
"""
LONGEST = timedelta(seconds=5)


# the timers of this process, woken when a worker here schedules a poll (one scheduled elsewhere is found
# by the timer's next look, at most `DeadlineTimer`'s idle wait later)
_timers: weakref.WeakSet[threading.Event] = weakref.WeakSet()


def wake_on_schedule(wakeup: threading.Event) -> None:
    _timers.add(wakeup)


def ensure_table(db: Database) -> None:
    db.create_tables("settlement_polls", DDL)


def schedule(db: Database, sid: UUID, step: str, key: str, due_at: datetime) -> None:
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO settlement_polls (settlement_id, step, key, due_at) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (settlement_id, step, key) DO UPDATE SET due_at = LEAST(settlement_polls.due_at, EXCLUDED.due_at)",
            (sid, step, key, due_at),
        )
    for wakeup in list(_timers):
        wakeup.set()


def due(conn: Any, now: datetime, limit: int = 200) -> list[tuple[UUID, str, str, int]]:
    rows = conn.execute(
        "SELECT settlement_id, step, key, tries FROM settlement_polls WHERE due_at <= %s ORDER BY due_at LIMIT %s",
        (now, limit),
    ).fetchall()
    return [(r[0], str(r[1]), str(r[2]), int(r[3])) for r in rows]


def next_due(conn: Any) -> datetime | None:
    """When the earliest poll falls due (past for polls due or being asked), None when there is none."""
    row = conn.execute("SELECT min(due_at) FROM settlement_polls").fetchone()
    return row[0] if row else None


def done(conn: Any, sid: UUID, step: str, key: str) -> None:
    conn.execute(
        "DELETE FROM settlement_polls WHERE settlement_id = %s AND step = %s AND key = %s", (sid, step, key)
    )


def again(conn: Any, sid: UUID, step: str, key: str, now: datetime, first: timedelta, tries: int) -> None:
    """Ask again later: the interval doubles from `first` up to `LONGEST`."""
    wait = min(max(first, timedelta(milliseconds=10)) * 2 ** min(tries + 1, 10), LONGEST)
    conn.execute(
        "UPDATE settlement_polls SET due_at = %s, tries = tries + 1"
        " WHERE settlement_id = %s AND step = %s AND key = %s",
        (now + wait, sid, step, key),
    )
