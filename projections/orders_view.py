"""The orders read model in PostgreSQL: one row per order, rows and position committed together."""

from __future__ import annotations

from typing import Any

from orjson import dumps

from bondflow.domain.orders import Order, OrderStatus
from projections.postgres_projector import PostgresProjector

DDL = """
CREATE TABLE IF NOT EXISTS orders_view (
    order_id uuid PRIMARY KEY,
    user_id text NOT NULL,
    isin text NOT NULL,
    side text NOT NULL,
    qty numeric(20, 6) NOT NULL,
    limit_clean_price numeric(12, 4),
    status text NOT NULL,
    filled_qty numeric(20, 6) NOT NULL DEFAULT 0,
    reasons jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL
);
ALTER TABLE orders_view ADD COLUMN IF NOT EXISTS cancelled_qty numeric(20, 6) NOT NULL DEFAULT 0;
ALTER TABLE orders_view ADD COLUMN IF NOT EXISTS fills jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE orders_view ADD COLUMN IF NOT EXISTS routed_to jsonb;
CREATE INDEX IF NOT EXISTS orders_view_user_created ON orders_view (user_id, created_at DESC, order_id DESC);
CREATE INDEX IF NOT EXISTS orders_view_created ON orders_view (created_at DESC, order_id DESC);
"""

PLACED = Order.OrderPlaced  # type: ignore[attr-defined]
ACCEPTED = Order.OrderAccepted  # type: ignore[attr-defined]
REJECTED = Order.OrderRejected  # type: ignore[attr-defined]
CANCELLED = Order.OrderCancelled  # type: ignore[attr-defined]
ROUTED = Order.OrderRouted  # type: ignore[attr-defined]
PARTIALLY_FILLED = Order.OrderPartiallyFilled  # type: ignore[attr-defined]
FILLED = Order.OrderFilled  # type: ignore[attr-defined]
REMAINDER_CANCELLED = Order.OrderRemainderCancelled  # type: ignore[attr-defined]
SETTLEMENT_RECORDED = Order.SettlementRecorded  # type: ignore[attr-defined]


def _topic(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class OrdersProjector(PostgresProjector):
    name = "orders_view"
    ddl = DDL
    topics = frozenset(
        _topic(c)
        for c in (
            PLACED,
            ACCEPTED,
            REJECTED,
            CANCELLED,
            ROUTED,
            PARTIALLY_FILLED,
            FILLED,
            REMAINDER_CANCELLED,
            SETTLEMENT_RECORDED,
        )
    )

    def apply(self, cur: Any, event: Any, position: int) -> None:
        if isinstance(event, PLACED):
            cur.execute(
                "INSERT INTO orders_view (order_id, user_id, isin, side, qty, limit_clean_price, status,"
                " created_at, updated_at, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (order_id) DO NOTHING",
                (
                    event.originator_id,
                    event.user_id,
                    event.isin,
                    event.side,
                    event.qty,
                    event.limit_clean_price,
                    OrderStatus.NEW.value,
                    event.placed_at,
                    event.timestamp,
                    position,
                ),
            )
            return
        if isinstance(event, ROUTED):
            cur.execute(
                "UPDATE orders_view SET routed_to = %s, updated_at = %s, position = %s WHERE order_id = %s AND position < %s",
                (dumps(event.dealers).decode(), event.timestamp, position, event.originator_id, position),
            )
            return
        if isinstance(event, PARTIALLY_FILLED | FILLED):
            fill = {
                "trade_id": event.trade_id,
                "dealer": event.dealer,
                "qty": str(event.qty),
                "clean_price": str(event.clean_price),
            }
            cur.execute(
                "UPDATE orders_view SET filled_qty = filled_qty + %s, fills = fills || jsonb_build_array(%s::jsonb),"
                " updated_at = %s, position = %s WHERE order_id = %s AND position < %s",
                (event.qty, dumps(fill).decode(), event.timestamp, position, event.originator_id, position),
            )
            return
        if isinstance(event, REMAINDER_CANCELLED):
            cur.execute(
                "UPDATE orders_view SET cancelled_qty = cancelled_qty + %s, reasons = reasons || jsonb_build_array(%s::text),"
                " updated_at = %s, position = %s WHERE order_id = %s AND position < %s",
                (event.qty, event.reason, event.timestamp, position, event.originator_id, position),
            )
            return
        status, reason = _status_change(event)
        cur.execute(
            "UPDATE orders_view SET status = %s, updated_at = %s, position = %s,"
            " reasons = CASE WHEN %s::text IS NULL THEN reasons ELSE reasons || jsonb_build_array(%s::text) END"
            " WHERE order_id = %s AND position < %s",
            (status, event.timestamp, position, reason, reason, event.originator_id, position),
        )


def _status_change(event: Any) -> tuple[str, str | None]:
    if isinstance(event, SETTLEMENT_RECORDED):  # the saga: FILLED / PARTIAL once every fill is final
        return event.status, None if event.settled else f"settlement failed for trade {event.trade_id}"
    if isinstance(event, ACCEPTED):
        return OrderStatus.PENDING.value, None
    if isinstance(event, REJECTED):
        return OrderStatus.REJECTED.value, f"{event.code}: {event.reason}"
    if isinstance(event, CANCELLED):
        return OrderStatus.CANCELLED.value, event.reason
    raise TypeError(f"orders_view does not handle {type(event).__qualname__}")  # pragma: no cover
