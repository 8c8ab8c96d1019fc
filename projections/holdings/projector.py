"""Holdings in PostgreSQL: units and average clean price per investor and ISIN, fed by settled trades.

A holding counts what the DvP saga settled (`TradeSettled`, both legs final), not executed fills: a settled
BUY adds units at its clean price (the average is volume-weighted), a settled SELL removes units at the same
average, and a trade whose settlement fails never shows. A holdings_view built from executed fills (before
settlement existed) is rebuilt from the log with `bondflow replay --switch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from bondflow.adapters.postgres import Database
from bondflow.domain.trades import Trade
from projections.base.postgres import PostgresProjector

DDL = """
CREATE TABLE IF NOT EXISTS holdings_view (
    user_id text NOT NULL,
    isin text NOT NULL,
    qty numeric(20, 6) NOT NULL,
    avg_clean_price numeric(20, 10) NOT NULL,
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (user_id, isin)
);
"""

SETTLED = Trade.TradeSettled
REDEEMED = "bondflow.domain.corporate_actions:CorporateAction.Redeemed"


class HoldingsProjector(PostgresProjector):
    name = "holdings_view"
    tables: ClassVar[dict[str, str]] = {"holdings_view": "user_id, isin"}
    ddl = DDL
    topics = frozenset({get_topic(SETTLED), REDEEMED})

    def apply(self, cur: Any, event: Any, position: int) -> None:
        """One settled trade; `position` guards against applying it twice (redelivery, restart)."""
        if get_topic(type(event)) == REDEEMED:
            self._redeemed(cur, event, position)
            return
        signed = event.qty if event.side == "BUY" else -event.qty
        cur.execute(
            "INSERT INTO holdings_view (user_id, isin, qty, avg_clean_price, updated_at, position)"
            " VALUES (%(user)s, %(isin)s, %(qty)s, %(price)s, %(at)s, %(pos)s)"
            " ON CONFLICT (user_id, isin) DO UPDATE SET"
            "  avg_clean_price = CASE WHEN %(qty)s > 0 AND holdings_view.qty + %(qty)s > 0"
            "    THEN (holdings_view.qty * holdings_view.avg_clean_price + %(qty)s * %(price)s)"
            "         / (holdings_view.qty + %(qty)s)"
            "    ELSE holdings_view.avg_clean_price END,"
            "  qty = holdings_view.qty + %(qty)s, updated_at = %(at)s, position = %(pos)s"
            " WHERE holdings_view.position < %(pos)s",
            {
                "user": event.user_id,
                "isin": event.isin,
                "qty": signed,
                "price": event.clean_price,
                "at": event.timestamp,
                "pos": position,
            },
        )

    @staticmethod
    def _redeemed(cur: Any, event: Any, position: int) -> None:
        """A final redemption retires the holder's units: the holding drops the bond."""
        if event.face_after != 0:
            return  # a partial redemption lowers the face per unit, not the units
        cur.execute(
            "UPDATE holdings_view SET qty = qty - %s, updated_at = %s, position = %s"
            " WHERE user_id = %s AND isin = %s AND position < %s",
            (event.units, event.timestamp, position, event.holder, event.isin, position),
        )


@dataclass(frozen=True, slots=True)
class HoldingRow:
    isin: str
    qty: Decimal
    avg_clean_price: Decimal


def holdings_of(db: Database, user_id: str) -> list[HoldingRow]:
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT isin, qty, avg_clean_price FROM holdings_view WHERE user_id = %s AND qty > 0 ORDER BY isin",
            (user_id,),
        ).fetchall()
    return [HoldingRow(str(i), Decimal(q), Decimal(p)) for i, q, p in rows]
