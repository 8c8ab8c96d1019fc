"""The orders read model in PostgreSQL: one row per order, rows and position committed together."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar

from eventsourcing.utils import get_topic
from orjson import dumps

from bondflow.domain.orders import Order, OrderStatus
from bondflow.runtime.followers import Positioned
from projections.base.batching import Statement, execute_grouped, in_rounds
from projections.base.postgres import PostgresProjector

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

PLACED = Order.OrderPlaced
ACCEPTED = Order.OrderAccepted
REJECTED = Order.OrderRejected
CANCELLED = Order.OrderCancelled
ROUTED = Order.OrderRouted
PARTIALLY_FILLED = Order.OrderPartiallyFilled
FILLED = Order.OrderFilled
REMAINDER_CANCELLED = Order.OrderRemainderCancelled
SETTLEMENT_RECORDED = Order.SettlementRecorded


class OrdersProjector(PostgresProjector):
    name = "orders_view"
    tables: ClassVar[dict[str, str]] = {"orders_view": "order_id"}
    ddl = DDL
    topics = frozenset(
        get_topic(c)
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

    def apply_batch(self, cur: Any, events: Sequence[Positioned]) -> None:
        """Orders placed in this batch are built in memory with the rest of their batch and inserted in one
        statement; changes to older orders run in rounds (one change per order per round)."""
        fresh: dict[Any, dict[str, Any]] = {}
        older: list[Positioned] = []
        for item in events:
            event = item.event
            if isinstance(event, PLACED):
                fresh.setdefault(event.originator_id, _new_row(event, item.position))
            elif event.originator_id in fresh:
                _fold(fresh[event.originator_id], event, item.position)
            else:
                older.append(item)
        if fresh:
            rows = [_insert_params(row) for row in fresh.values()]
            cur.execute(INSERT_MANY, [list(column) for column in zip(*rows, strict=True)])
        with cur.connection.pipeline():
            for round_ in in_rounds(older, lambda item: item.event.originator_id):
                execute_grouped(cur, (_statement(item.event, item.position) for item in round_))

    def apply(self, cur: Any, event: Any, position: int) -> None:
        if isinstance(event, PLACED):
            cur.execute(INSERT, _insert_params(_new_row(event, position)))
        else:
            cur.execute(*_statement(event, position))


INSERT = (
    "INSERT INTO orders_view (order_id, user_id, isin, side, qty, limit_clean_price, status, filled_qty,"
    " reasons, created_at, updated_at, position, cancelled_qty, fills, routed_to)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s::jsonb, %s::jsonb)"
    " ON CONFLICT (order_id) DO NOTHING"
)
INSERT_MANY = (  # the same rows as INSERT, in one statement
    "INSERT INTO orders_view (order_id, user_id, isin, side, qty, limit_clean_price, status, filled_qty,"
    " reasons, created_at, updated_at, position, cancelled_qty, fills, routed_to)"
    " SELECT o, u, i, s, q, l, st, f, r::jsonb, c, up, p, cq, fl::jsonb, rt::jsonb FROM unnest("
    "%b::uuid[], %b::text[], %b::text[], %b::text[], %b::numeric[], %b::numeric[], %b::text[], %b::numeric[],"
    " %b::text[], %b::timestamptz[], %b::timestamptz[], %b::bigint[], %b::numeric[], %b::text[], %b::text[])"
    " AS t(o, u, i, s, q, l, st, f, r, c, up, p, cq, fl, rt)"
    " ON CONFLICT (order_id) DO NOTHING"
)
INSERT_COLUMNS = (
    "order_id",
    "user_id",
    "isin",
    "side",
    "qty",
    "limit_clean_price",
    "status",
    "filled_qty",
    "reasons",
    "created_at",
    "updated_at",
    "position",
    "cancelled_qty",
    "fills",
    "routed_to",
)


def _new_row(event: Any, position: int) -> dict[str, Any]:
    return {
        "order_id": event.originator_id,
        "user_id": event.user_id,
        "isin": event.isin,
        "side": event.side,
        "qty": event.qty,
        "limit_clean_price": event.limit_clean_price,
        "status": OrderStatus.NEW.value,
        "filled_qty": Decimal(0),
        "reasons": [],
        "created_at": event.placed_at,
        "updated_at": event.timestamp,
        "position": position,
        "cancelled_qty": Decimal(0),
        "fills": [],
        "routed_to": None,
    }


def _insert_params(row: dict[str, Any]) -> tuple[Any, ...]:
    values = dict(row)
    values["reasons"] = dumps(row["reasons"]).decode()
    values["fills"] = dumps(row["fills"]).decode()
    values["routed_to"] = None if row["routed_to"] is None else dumps(row["routed_to"]).decode()
    return tuple(values[c] for c in INSERT_COLUMNS)


def _fill_of(event: Any) -> dict[str, str]:
    return {
        "trade_id": event.trade_id,
        "dealer": event.dealer,
        "qty": str(event.qty),
        "clean_price": str(event.clean_price),
    }


def _fold(row: dict[str, Any], event: Any, position: int) -> None:
    """What `_statement` does to a row, done to a row still in memory."""
    if position <= row["position"]:
        return
    if isinstance(event, ROUTED):
        row["routed_to"] = list(event.dealers)
    elif isinstance(event, PARTIALLY_FILLED | FILLED):
        row["filled_qty"] += event.qty
        row["fills"].append(_fill_of(event))
    elif isinstance(event, REMAINDER_CANCELLED):
        row["cancelled_qty"] += event.qty
        row["reasons"].append(event.reason)
    else:
        status, reason = _status_change(event)
        row["status"] = status
        if reason is not None:
            row["reasons"].append(reason)
    row["updated_at"], row["position"] = event.timestamp, position


def _statement(event: Any, position: int) -> Statement:
    """The one UPDATE an event makes to an order's row (guarded by position: exactly once)."""
    if isinstance(event, ROUTED):
        return (
            "UPDATE orders_view SET routed_to = %s, updated_at = %s, position = %s WHERE order_id = %s AND position < %s",
            (dumps(event.dealers).decode(), event.timestamp, position, event.originator_id, position),
        )
    if isinstance(event, PARTIALLY_FILLED | FILLED):
        return (
            "UPDATE orders_view SET filled_qty = filled_qty + %s, fills = fills || jsonb_build_array(%s::jsonb),"
            " updated_at = %s, position = %s WHERE order_id = %s AND position < %s",
            (
                event.qty,
                dumps(_fill_of(event)).decode(),
                event.timestamp,
                position,
                event.originator_id,
                position,
            ),
        )
    if isinstance(event, REMAINDER_CANCELLED):
        return (
            "UPDATE orders_view SET cancelled_qty = cancelled_qty + %s, reasons = reasons || jsonb_build_array(%s::text),"
            " updated_at = %s, position = %s WHERE order_id = %s AND position < %s",
            (event.qty, event.reason, event.timestamp, position, event.originator_id, position),
        )
    status, reason = _status_change(event)
    return (
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
