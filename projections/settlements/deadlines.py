"""The settlements read model as the deadline timer's index (`bondflow.saga.ports.DeadlineIndex`): which
settlements' current step is past its deadline. The timer's handler checks each one again on the aggregate
before recording `DeadlineExpired`, so a lagging read model only delays a deadline, never invents one."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from bondflow.adapters.postgres import Database
from projections.settlements import projector


class SettlementDeadlines:
    def __init__(self, db: Database) -> None:
        self.db = db

    def setup(self) -> None:
        self.db.create_tables(projector.SettlementsProjector.name, projector.DDL)

    def due(self, conn: Any, now: datetime) -> list[UUID]:
        return projector.due(conn, now)
