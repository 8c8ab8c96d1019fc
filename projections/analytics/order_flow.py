"""Order flow in ClickHouse for analytics: one row per order, versioned by log position.

Idempotent on replay: `order_flow` is a ReplacingMergeTree whose version is the log position, and the
projector keeps its own checkpoint in ClickHouse; rows are inserted in batches, then the checkpoint.
A crash between the two only means the same rows (same versions) are written again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from bondflow.adapters.clickhouse import ClickHouse
from bondflow.domain.orders import OrderStatus
from bondflow.runtime.clock import IST
from bondflow.runtime.followers import Positioned
from projections.base.clickhouse import ClickHouseProjector
from projections.orders.projector import ACCEPTED, CANCELLED, PLACED, REJECTED

DDL = (
    """CREATE TABLE IF NOT EXISTS {db}.order_flow (
        order_id UUID,
        isin LowCardinality(String),
        side LowCardinality(String),
        qty Decimal(20, 6),
        status LowCardinality(String),
        trade_day Date,
        placed_at DateTime64(6, 'UTC'),
        position UInt64
    ) ENGINE = ReplacingMergeTree(position) ORDER BY order_id""",
)
RECENT_ROWS = 50_000
COLUMNS = ("order_id", "isin", "side", "qty", "status", "trade_day", "placed_at", "position")


class OrderFlowProjector(ClickHouseProjector):
    ddl = DDL
    name = "order_flow"
    tables: ClassVar[dict[str, str]] = {"order_flow": "order_id"}
    topics = frozenset(get_topic(c) for c in (PLACED, ACCEPTED, REJECTED, CANCELLED))

    def __init__(self, ch: ClickHouse) -> None:
        super().__init__(ch)
        self._recent: dict[Any, list[Any]] = {}  # rows this leader wrote lately, so a change needs no query

    def position(self) -> int:
        self._recent = {}  # read on (re)gaining leadership: another copy may have written meanwhile
        return super().position()

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        latest: dict[Any, list[Any]] = {}
        recent = self._recent
        missing, placed = [], set()
        for item in events:
            order_id = item.event.originator_id
            if isinstance(item.event, PLACED):
                placed.add(order_id)
            elif order_id not in latest and order_id not in placed:
                if order_id in recent:
                    latest[order_id] = recent[order_id]
                else:
                    missing.append(order_id)
        if missing:
            for found in self.ch.query(
                "SELECT "
                + ", ".join(COLUMNS)
                + " FROM {db}.order_flow FINAL WHERE order_id IN {ids:Array(UUID)}",
                {"ids": list(set(missing))},
            ):
                latest[found[0]] = list(found)
        changed: dict[Any, list[Any]] = {}
        for item in events:
            row = _apply(latest.get(item.event.originator_id), item.event, item.position)
            if row is not None:
                latest[row[0]] = changed[row[0]] = row
        self.ch.insert("order_flow", list(changed.values()), COLUMNS)
        self.checkpoint(upto)
        if len(recent) > RECENT_ROWS:
            recent.clear()
        recent.update(changed)


def _apply(row: list[Any] | None, event: Any, position: int) -> list[Any] | None:
    if isinstance(event, PLACED):
        trade_day = event.placed_at.astimezone(IST).date()
        return [
            event.originator_id,
            event.isin,
            event.side,
            event.qty,
            OrderStatus.NEW.value,
            trade_day,
            event.placed_at,
            position,
        ]
    if row is None:  # pragma: no cover - an order's first event is always OrderPlaced
        return None
    status = {ACCEPTED: OrderStatus.PENDING, REJECTED: OrderStatus.REJECTED, CANCELLED: OrderStatus.CANCELLED}
    updated = list(row)
    updated[4] = status[type(event)].value
    updated[7] = position
    return updated


@dataclass(frozen=True, slots=True)
class FlowRow:
    isin: str
    side: str
    day: date
    orders: int
    qty: Decimal
    accepted: int
    rejected: int
    cancelled: int


def order_flow(ch: ClickHouse, *, isin: str | None, start: date | None, end: date | None) -> list[FlowRow]:
    """Counts and quantities per ISIN, side and trade day (IST), from the ClickHouse read model."""
    filters = ["1"]
    params: dict[str, Any] = {}
    if isin is not None:
        filters.append("isin = {isin:String}")
        params["isin"] = isin
    if start is not None:
        filters.append("trade_day >= {start:Date}")
        params["start"] = start
    if end is not None:
        filters.append("trade_day <= {end:Date}")
        params["end"] = end
    rows = ch.query(
        "SELECT isin, side, trade_day, count(), sum(qty),"
        " countIf(status NOT IN ('NEW', 'REJECTED')), countIf(status = 'REJECTED'),"
        " countIf(status = 'CANCELLED')"
        " FROM {db}.order_flow FINAL WHERE "
        + " AND ".join(filters)
        + " GROUP BY isin, side, trade_day ORDER BY trade_day, isin, side",
        params,
    )
    return [
        FlowRow(r[0], r[1], r[2], int(r[3]), Decimal(r[4]), int(r[5]), int(r[6]), int(r[7])) for r in rows
    ]
