"""What the saga, its deadline timer and the settlement effect workers call: the settlement command
handler and the deadline index, injected by the composition root (ARCHITECTURE §4: nothing below
`wiring/` imports `commands/` or `projections/`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from bondflow.domain.settlement import Settlement
from bondflow.runtime.clock import Clock
from bondflow.saga import decide as d


class SettlementHandler(Protocol):
    clock: Clock
    hold_lifetime: timedelta

    def get(self, sid: UUID) -> Settlement: ...

    def side_of(self, sid: UUID) -> str: ...

    def execute(self, command: d.Command) -> bool: ...

    def report(self, sid: UUID, transition: str, request_id: str, **facts: Any) -> bool: ...

    def token_transferred(self, sid: UUID, tx_hash: str, request_id: str) -> bool: ...

    def raise_break(self, sid: UUID, step: str, reason: str) -> bool: ...

    def expire(self, sid: UUID, now: datetime) -> bool: ...


class DeadlineIndex(Protocol):
    """Which settlements' current step is past its deadline (the handler checks each again on the aggregate
    before it records anything: this index only says where to look)."""

    def setup(self) -> None: ...

    def due(self, conn: Any, now: datetime) -> list[UUID]: ...
