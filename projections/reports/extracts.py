"""Audit pack extracts for regulators and ops: trades, positions, TDS and corporate actions for a period,
as CSV or Parquet, with the signed checkpoint that covers them."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bondflow.adapters.postgres import Database
from projections.corporate_actions import queries as corporate_action_queries

COLUMNS: dict[str, tuple[str, ...]] = {
    "trades": (
        "trade_id",
        "order_id",
        "user_id",
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
    ),
    "positions": ("user_id", "isin", "qty", "avg_clean_price", "updated_at"),
    "tds": corporate_action_queries.TDS_REPORT_COLUMNS,
    "corporate-actions": corporate_action_queries.CA_REPORT_COLUMNS,
}
READ_MODELS: dict[str, tuple[str, ...]] = {  # what each report reads, for `min_position`
    "trades": ("trades_view",),
    "positions": ("holdings_view",),
    "tds": ("corporate_actions_view",),
    "corporate-actions": ("corporate_actions_view",),
}


def rows_for(db: Database, report: str, start: date, end: date) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        if report == "trades":
            return list(
                cur.execute(
                    f"SELECT {', '.join(COLUMNS['trades'])} FROM trades_view WHERE trade_date BETWEEN %s AND %s"
                    " ORDER BY trade_date, trade_id",
                    (start, end),
                ).fetchall()
            )
        if report == "positions":
            return list(
                cur.execute(
                    "SELECT user_id, isin, qty, avg_clean_price, updated_at FROM holdings_view"
                    " WHERE qty <> 0 AND updated_at::date <= %s ORDER BY user_id, isin",
                    (end,),
                ).fetchall()
            )
    if report == "tds":  # coupons paid in the period, per holder, with the TDS rule, section and rate
        return corporate_action_queries.tds_report_rows(db, start, end)
    return corporate_action_queries.corporate_action_rows(db, start, end)


def covering_checkpoint(db: Database) -> dict[str, Any] | None:
    with db.cursor() as cur:
        row = cur.execute(
            "SELECT seq, merkle_root, kid, signature FROM regulator_checkpoints ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        head = cur.execute("SELECT coalesce(max(seq), 0) FROM regulator_stream").fetchone()
    if row is None:
        return {"seq": None, "stream_head_seq": int(head[0]) if head else 0}
    return {
        "seq": int(row[0]),
        "merkle_root": bytes(row[1]).hex(),
        "kid": row[2],
        "signature": bytes(row[3]).hex(),
        "stream_head_seq": int(head[0]) if head else 0,
    }


def as_csv(columns: Sequence[str], rows: list[tuple[Any, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if v is None else (format(v, "f") if hasattr(v, "as_tuple") else v) for v in row])
    return buffer.getvalue().encode()


def as_parquet(columns: Sequence[str], rows: list[tuple[Any, ...]]) -> bytes:
    """Decimals stay decimals (Parquet DECIMAL via Arrow), never floats."""
    data = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    table = pa.table(
        {name: pa.array(values) if values else pa.array([], pa.string()) for name, values in data.items()}
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()
