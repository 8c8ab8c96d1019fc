"""Where each Postgres projector is in the log; written in the same transaction as its rows."""

from __future__ import annotations

from typing import Any

from bondflow.adapters.postgres import Database

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


def record_position(cur: Any, name: str, position: int) -> None:
    """Advance `name` to `position` inside the caller's transaction; refuses to move backwards."""
    cur.execute(
        "INSERT INTO projection_positions (name, position) VALUES (%s, %s) "
        "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now() "
        "WHERE projection_positions.position < EXCLUDED.position",
        (name, position),
    )
