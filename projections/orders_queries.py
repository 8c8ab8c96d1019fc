"""Queries over the orders read model: one order, and pages of orders with filters and keyset cursors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import sql

from bondflow.adapters.postgres import Database
from bondflow.errors import NotFound
from projections.pagination import Sort, decode_cursor, encode_cursor

SORTABLE = {"created_at": "created_at", "updated_at": "updated_at"}
COLUMNS = (
    "order_id, user_id, isin, side, qty, limit_clean_price, status, filled_qty, reasons, created_at,"
    " updated_at, position, cancelled_qty, fills, routed_to"
)


@dataclass(frozen=True, slots=True)
class OrderRow:
    order_id: UUID
    user_id: str
    isin: str
    side: str
    qty: Decimal
    limit_clean_price: Decimal | None
    status: str
    filled_qty: Decimal
    reasons: list[str]
    created_at: datetime
    updated_at: datetime
    position: int
    cancelled_qty: Decimal
    fills: list[dict[str, str]]
    routed_to: list[str] | None

    @property
    def remaining_qty(self) -> Decimal:
        """Units neither filled nor cancelled."""
        return self.qty - self.filled_qty - self.cancelled_qty


@dataclass(frozen=True, slots=True)
class OrderPage:
    items: list[OrderRow]
    next_cursor: str | None


def get_order(db: Database, order_id: UUID, *, owner: str | None) -> OrderRow:
    """`owner` restricts to one investor's orders; another investor's order is simply not found."""
    with db.cursor() as cur:
        row = cur.execute(f"SELECT {COLUMNS} FROM orders_view WHERE order_id = %s", (order_id,)).fetchone()
    if row is None or (owner is not None and row[1] != owner):
        raise NotFound("order not found", {"order_id": str(order_id)})
    return OrderRow(*row)


def list_orders(
    db: Database,
    *,
    owner: str | None,
    status: str | None,
    isin: str | None,
    sort: Sort,
    limit: int,
    cursor: str | None,
) -> OrderPage:
    where: list[sql.Composable] = []
    params: list[Any] = []
    for column, value in (("user_id", owner), ("status", status), ("isin", isin)):
        if value is not None:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    key = sql.Identifier(sort.column)
    if cursor is not None:
        last_value, last_id = decode_cursor(cursor, sort)
        op = sql.SQL("<" if sort.descending else ">")
        where.append(sql.SQL("({}, order_id) {} (%s::timestamptz, %s::uuid)").format(key, op))
        params.extend([last_value, last_id])
    direction = sql.SQL("DESC" if sort.descending else "ASC")
    query = sql.SQL(
        "SELECT {cols} FROM orders_view {where} ORDER BY {key} {dir}, order_id {dir} LIMIT %s"
    ).format(
        cols=sql.SQL(COLUMNS),
        where=sql.SQL("WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
        key=key,
        dir=direction,
    )
    params.append(limit + 1)
    with db.cursor() as cur:
        rows = [OrderRow(*r) for r in cur.execute(query, params).fetchall()]
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(sort, [getattr(last, sort.column).isoformat(), last.order_id])
    return OrderPage(rows, next_cursor)
