"""The dealers' records, published from the analytics store into PostgreSQL for the execution advisor.

The advisor ranks the dealers of an RFQ by their record per ISIN (fill ratio, price improvement), which
`fill_analytics` keeps in ClickHouse. With the embedded engine (chDB: one process per data path,
ARCHITECTURE §5) only the server's process can read it, and the execution worker would have to run there,
sharing the API's interpreter: its RFQs were a fifth of that process's CPU under load. So the process that
can read ClickHouse publishes every ISIN's records into `advisor_dealer_records` on a period (one leader
across processes, under the timer runner), and the advisor reads them from PostgreSQL wherever it runs.

The records are advice: at most one period (plus the advisor's own cache period) behind the fills, and an
unchanged set is not written again.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from bondflow.adapters.clickhouse import ClickHouse
from bondflow.adapters.postgres import Database
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Positioned
from bondflow.workers.advisor import DealerRecord
from projections.analytics.fill_analytics import records_by_isin

TABLE = "advisor_dealer_records"
DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    isin text NOT NULL,
    dealer text NOT NULL,
    rfqs bigint NOT NULL,
    fills bigint NOT NULL,
    avg_improvement_bp numeric NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (isin, dealer)
)
"""

Published = dict[tuple[str, str], DealerRecord]  # (isin, dealer) -> record


def ensure_table(db: Database) -> None:
    db.create_tables(TABLE, DDL)


def published_records(db: Database, isin: str) -> dict[str, DealerRecord]:
    """The records last published for `isin`, by dealer (none published: no history, the prior holds)."""
    with db.cursor() as cur:
        rows = cur.execute(
            f"SELECT dealer, rfqs, fills, avg_improvement_bp FROM {TABLE} WHERE isin = %s",
            (isin,),
        ).fetchall()
    return {str(d): DealerRecord(str(d), int(n), int(k), Decimal(bp)) for d, n, k, bp in rows}


def publish(cur: Any, records: Published) -> None:
    """Replace the published records with `records`, in the caller's transaction."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"publish:{TABLE}",))
    cur.execute(f"DELETE FROM {TABLE}")
    if not records:
        return
    isins, dealers, rfqs, fills, bps = [], [], [], [], []
    for (isin, dealer), record in records.items():
        isins.append(isin)
        dealers.append(dealer)
        rfqs.append(record.rfqs)
        fills.append(record.fills)
        bps.append(record.avg_improvement_bp)
    cur.execute(
        f"INSERT INTO {TABLE} (isin, dealer, rfqs, fills, avg_improvement_bp)"
        " SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::numeric[])",
        (isins, dealers, rfqs, fills, bps),
    )


class DealerRecordsPublisher:
    """Publishes `records_by_isin` every `tick_seconds` when it changed; runs under a `TimerRunner` in a
    process that can read ClickHouse."""

    name = "dealer_records"
    topics: frozenset[str] = frozenset()

    def __init__(self, clickhouse: ClickHouse, db: Database, store: EventStore, *, period: float) -> None:
        self.clickhouse = clickhouse
        self.db = db
        self.store = store
        self.tick_seconds = max(period, 0.05)
        self._last: Published | None = None  # what this process published last (None: not yet)
        self.published = 0  # how many times the records were written, for tests and metrics

    def setup(self) -> None:
        ensure_table(self.db)

    def position(self) -> int:
        return self.store.head_position()  # a timer: it has no position in the log, it never lags

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        """Nothing to follow (topics is empty)."""

    def tick(self, conn: Any = None) -> int:
        """Read every ISIN's records from ClickHouse and publish them if they changed; returns how many
        records were published (0 when unchanged)."""
        records = records_by_isin(self.clickhouse)
        if records == self._last:
            return 0
        if conn is None:
            with self.db.transaction() as cur:
                publish(cur, records)
        else:
            with conn.transaction():
                publish(conn, records)
        self._last = records
        self.published += 1
        return len(records)
