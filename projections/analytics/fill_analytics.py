"""Fill analytics in ClickHouse: RFQs sent to each dealer and the fills they gave, per ISIN.

Idempotent on replay like `order_flow`: ReplacingMergeTree tables versioned by log position, plus the
projector's own checkpoint. The execution advisor reads `records_by_isin`, as `dealer_records` publishes it
into PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from bondflow.adapters.clickhouse import ClickHouse
from bondflow.domain.orders import Order
from bondflow.domain.trades import Trade
from bondflow.runtime.followers import Positioned
from bondflow.workers.advisor import DealerRecord
from projections.base.clickhouse import ClickHouseProjector

ROUTED = Order.OrderRouted
EXECUTED = Trade.TradeExecuted

DDL = (
    """CREATE TABLE IF NOT EXISTS {db}.rfq_requests (
        rfq_id String, dealer LowCardinality(String), isin LowCardinality(String), order_id UUID,
        day Date, position UInt64
    ) ENGINE = ReplacingMergeTree(position) ORDER BY (rfq_id, dealer)""",
    """CREATE TABLE IF NOT EXISTS {db}.fills (
        trade_id UUID, rfq_id String, dealer LowCardinality(String), isin LowCardinality(String),
        side LowCardinality(String), qty Decimal(20, 6), clean_price Decimal(12, 4),
        improvement_bp Decimal(12, 4), consideration Decimal(20, 2), day Date, position UInt64
    ) ENGINE = ReplacingMergeTree(position) ORDER BY trade_id""",
)


class FillAnalyticsProjector(ClickHouseProjector):
    ddl = DDL
    name = "fill_analytics"
    tables: ClassVar[dict[str, str]] = {"rfq_requests": "rfq_id, dealer", "fills": "trade_id"}
    topics = frozenset({get_topic(ROUTED), get_topic(EXECUTED)})

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        requests: list[list[Any]] = []
        fills: list[list[Any]] = []
        for item in events:
            event: Any = item.event
            day = event.timestamp.date()
            if isinstance(event, ROUTED):
                requests.extend(
                    [event.rfq_id, dealer, event.isin, event.originator_id, day, item.position]
                    for dealer in event.dealers
                )
            elif isinstance(event, EXECUTED):
                improvement = event.reference_clean_price - event.clean_price
                if event.side == "SELL":
                    improvement = -improvement
                bp = (improvement / event.reference_clean_price * Decimal(10000)).quantize(Decimal("0.0001"))
                fills.append(
                    [
                        event.originator_id,
                        event.quote_id.rsplit(":", 1)[0],
                        event.dealer,
                        event.isin,
                        event.side,
                        event.qty,
                        event.clean_price,
                        bp,
                        event.consideration,
                        event.trade_date,
                        item.position,
                    ]
                )
        self.ch.insert("rfq_requests", requests, ("rfq_id", "dealer", "isin", "order_id", "day", "position"))
        self.ch.insert(
            "fills",
            fills,
            (
                "trade_id",
                "rfq_id",
                "dealer",
                "isin",
                "side",
                "qty",
                "clean_price",
                "improvement_bp",
                "consideration",
                "day",
                "position",
            ),
        )
        self.checkpoint(upto)


# per dealer (or per ISIN and dealer where `{by}` is `r.isin, `): RFQs received, RFQs filled, and the average
# price improvement (bp) of the filled ones; for one ISIN or all
RECORDS = (
    "SELECT {by}r.dealer, count() AS rfqs, countIf(f.filled > 0), avgIf(f.bp, f.filled > 0)"
    " FROM (SELECT rfq_id, dealer, isin FROM {db}.rfq_requests FINAL WHERE {isin:String} = '' OR isin = {isin:String}) AS r"
    " LEFT JOIN (SELECT rfq_id, dealer, count() AS filled, avg(improvement_bp) AS bp FROM {db}.fills FINAL"
    "   WHERE {isin:String} = '' OR isin = {isin:String} GROUP BY rfq_id, dealer) AS f"
    " ON r.rfq_id = f.rfq_id AND r.dealer = f.dealer"
    " GROUP BY {by}r.dealer"
)


def dealer_records(ch: ClickHouse, isin: str | None = None) -> dict[str, DealerRecord]:
    """Per dealer: RFQs received, RFQs filled, average price improvement (bp) — for one ISIN or all."""
    rows = ch.query(RECORDS.replace("{by}", ""), {"isin": isin or ""})
    return {str(d): DealerRecord(str(d), int(n), int(k), _bp(bp)) for d, n, k, bp in rows}


def records_by_isin(ch: ClickHouse) -> dict[tuple[str, str], DealerRecord]:
    """Every (ISIN, dealer)'s record: what the advisor ranks by (published for it by `dealer_records`)."""
    rows = ch.query(RECORDS.replace("{by}", "r.isin, "), {"isin": ""})
    return {(str(i), str(d)): DealerRecord(str(d), int(n), int(k), _bp(bp)) for i, d, n, k, bp in rows}


def _bp(value: object) -> Decimal:
    """ClickHouse's avg over no rows is NaN: no fills means no improvement."""
    number = Decimal(str(value))
    return Decimal(0) if number.is_nan() else number.quantize(Decimal("0.0001"))


def fills_by_dealer(
    ch: ClickHouse, *, isin: str | None, start: date | None, end: date | None
) -> list[dict[str, Any]]:
    filters: list[str] = ["1"]
    params: dict[str, Any] = {}
    if isin is not None:
        filters.append("isin = {isin:String}")
        params["isin"] = isin
    if start is not None:
        filters.append("day >= {start:Date}")
        params["start"] = start
    if end is not None:
        filters.append("day <= {end:Date}")
        params["end"] = end
    rows = ch.query(
        "SELECT dealer, isin, side, count(), sum(qty), sum(consideration), avg(improvement_bp)"
        " FROM {db}.fills FINAL WHERE "
        + " AND ".join(filters)
        + " GROUP BY dealer, isin, side ORDER BY dealer, isin, side",
        params,
    )
    return [
        {
            "dealer": d,
            "isin": i,
            "side": s,
            "fills": int(n),
            "qty": Decimal(q),
            "consideration": Decimal(c),
            "avg_improvement_bp": Decimal(str(bp)).quantize(Decimal("0.0001")),
        }
        for d, i, s, n, q, c, bp in rows
    ]
