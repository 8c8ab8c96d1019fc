"""Trades in PostgreSQL (one row per dealer fill), rows and position committed together, and their queries."""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from bondflow.adapters.postgres import Database
from bondflow.domain.settlement import Settlement
from bondflow.domain.trades import Trade
from projections.base.pagination import Keyset, Sort, cursor_value, encode_cursor, keyset_page
from projections.base.postgres import PostgresProjector

DDL = """
CREATE TABLE IF NOT EXISTS trades_view (
    trade_id uuid PRIMARY KEY,
    order_id uuid NOT NULL,
    user_id text NOT NULL,
    isin text NOT NULL,
    side text NOT NULL,
    dealer text NOT NULL,
    qty numeric(20, 6) NOT NULL,
    clean_price numeric(12, 4) NOT NULL,
    accrued_per_100 numeric(20, 10) NOT NULL,
    consideration numeric(20, 2) NOT NULL,
    fees numeric(20, 2) NOT NULL,
    trade_date date NOT NULL,
    settlement_date date NOT NULL,
    settlement_state text NOT NULL DEFAULT 'PENDING',
    executed_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS trades_view_user_time ON trades_view (user_id, executed_at DESC, trade_id DESC);
"""

EXECUTED = Trade.TradeExecuted
SETTLED = Trade.TradeSettled
SETTLEMENT_FAILED = Settlement.Failed
FIELDS = (
    "trade_id",
    "order_id",
    "isin",
    "side",
    "dealer",
    "qty",
    "clean_price",
    "accrued_per_100",
    "consideration",
    "fees",
    "trade_date",
    "settlement_date",
    "settlement_state",
    "executed_at",
)

PAGED = Keyset(
    "trades_view", ", ".join(FIELDS), tie="trade_id", tie_cast="uuid", casts={"executed_at": "timestamptz"}
)


class TradesProjector(PostgresProjector):
    name = "trades_view"
    tables: ClassVar[dict[str, str]] = {"trades_view": "trade_id"}
    ddl = DDL
    topics = frozenset(get_topic(c) for c in (EXECUTED, SETTLED, SETTLEMENT_FAILED))

    def apply(self, cur: Any, event: Any, position: int) -> None:
        e = event
        if not isinstance(e, EXECUTED):  # the settlement saga's outcome for this trade
            trade_id = e.originator_id if isinstance(e, SETTLED) else e.trade_id
            state = "SETTLED" if isinstance(e, SETTLED) else "FAILED"
            cur.execute("UPDATE trades_view SET settlement_state = %s WHERE trade_id = %s", (state, trade_id))
            return
        cur.execute(
            "INSERT INTO trades_view (trade_id, order_id, user_id, isin, side, dealer, qty, clean_price,"
            " accrued_per_100, consideration, fees, trade_date, settlement_date, executed_at, position)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                e.originator_id,
                e.order_id,
                e.user_id,
                e.isin,
                e.side,
                e.dealer,
                e.qty,
                e.clean_price,
                e.accrued_per_100,
                e.consideration,
                e.fees,
                e.trade_date,
                e.settlement_date,
                e.timestamp,
                position,
            ),
        )


def list_trades(
    db: Database, *, owner: str | None, isin: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    sort = Sort("executed_at", True)
    raw, last = keyset_page(
        db, PAGED, filters={"user_id": owner, "isin": isin}, sort=sort, limit=limit, cursor=cursor
    )
    rows = [dict(zip(FIELDS, r, strict=True)) for r in raw]
    return rows, None if last is None else encode_cursor(sort, [cursor_value(v) for v in last])
