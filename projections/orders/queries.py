"""Queries over the orders read model: one order, and pages of orders with filters and keyset cursors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from bondflow.adapters.postgres import Database
from bondflow.errors import NotFound
from projections.base.pagination import Keyset, Sort, cursor_value, encode_cursor, keyset_page

SORTABLE = {"created_at": "created_at", "updated_at": "updated_at"}
COLUMNS = (
    "order_id, user_id, isin, side, qty, limit_clean_price, status, filled_qty, reasons, created_at,"
    " updated_at, position, cancelled_qty, fills, routed_to"
)
PAGED = Keyset(
    "orders_view",
    COLUMNS,
    tie="order_id",
    tie_cast="uuid",
    casts=dict.fromkeys(SORTABLE.values(), "timestamptz"),
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
    raw, last = keyset_page(
        db,
        PAGED,
        filters={"user_id": owner, "status": status, "isin": isin},
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    rows = [OrderRow(*r) for r in raw]
    return OrderPage(rows, None if last is None else encode_cursor(sort, [cursor_value(v) for v in last]))
