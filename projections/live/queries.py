"""Reads over the live-updates read model: a user's updates after a log position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bondflow.adapters.postgres import Database


@dataclass(frozen=True, slots=True)
class Update:
    position: int
    kind: str
    data: dict[str, Any]
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"id": self.position, "event": self.kind, "data": self.data, "at": self.at.isoformat()}


def updates_after(db: Database, user_id: str, after: int, limit: int) -> list[Update]:
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT position, kind, data, at FROM user_feed WHERE user_id = %s AND position > %s"
            " ORDER BY position LIMIT %s",
            (user_id, after, limit),
        ).fetchall()
    return [Update(int(r[0]), r[1], r[2], r[3]) for r in rows]
