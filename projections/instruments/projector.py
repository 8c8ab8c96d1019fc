"""The bond master and the holiday calendar in PostgreSQL, rows and position committed together."""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.utils import get_topic
from orjson import dumps

from bondflow.domain.instruments import Instrument
from bondflow.domain.market_calendar import MarketCalendar
from projections.base.postgres import PostgresProjector

DDL = """
CREATE TABLE IF NOT EXISTS instruments_view (
    isin text PRIMARY KEY,
    instrument_id uuid NOT NULL UNIQUE,
    issuer text NOT NULL,
    name text NOT NULL,
    coupon_rate numeric(9, 4) NOT NULL,
    coupon_frequency int NOT NULL,
    issue_date date NOT NULL,
    maturity_date date NOT NULL,
    face_value numeric(20, 2) NOT NULL,
    day_count text NOT NULL,
    rating text NOT NULL,
    rating_bucket text NOT NULL,
    eligible_investor_categories jsonb NOT NULL,
    allowed_residencies jsonb NOT NULL,
    record_date_days int NOT NULL,
    lockup_until date,
    reference_clean_price numeric(12, 4) NOT NULL,
    reference_price_as_of timestamptz NOT NULL,
    price_band_pct numeric(6, 2) NOT NULL,
    suspended boolean NOT NULL DEFAULT false,
    suspension_reason text,
    listed_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS market_holidays (
    market text NOT NULL,
    day date NOT NULL,
    name text NOT NULL,
    PRIMARY KEY (market, day)
);
"""

LISTED = Instrument.Listed
SUSPENDED = Instrument.Suspended
RESUMED = Instrument.Resumed
PRICE_SET = Instrument.ReferencePriceSet
CALENDAR_OPENED = MarketCalendar.Opened
HOLIDAY_ADDED = MarketCalendar.HolidayAdded

LISTED_COLUMNS = (
    "isin",
    "issuer",
    "name",
    "coupon_rate",
    "coupon_frequency",
    "issue_date",
    "maturity_date",
    "face_value",
    "day_count",
    "rating",
    "rating_bucket",
    "eligible_investor_categories",
    "allowed_residencies",
    "record_date_days",
    "lockup_until",
    "reference_clean_price",
    "price_band_pct",
)


class InstrumentsProjector(PostgresProjector):
    name = "instruments_view"
    tables: ClassVar[dict[str, str]] = {"instruments_view": "isin", "market_holidays": "market, day"}
    ddl = DDL
    topics = frozenset(
        get_topic(c) for c in (LISTED, SUSPENDED, RESUMED, PRICE_SET, CALENDAR_OPENED, HOLIDAY_ADDED)
    )

    def apply(self, cur: Any, event: Any, position: int) -> None:
        if isinstance(event, LISTED):
            values = [getattr(event, c) for c in LISTED_COLUMNS]
            values[11], values[12] = dumps(values[11]).decode(), dumps(values[12]).decode()
            cur.execute(
                f"INSERT INTO instruments_view ({', '.join(LISTED_COLUMNS)}, instrument_id, reference_price_as_of,"
                f" listed_at, position) VALUES ({', '.join(['%s'] * len(LISTED_COLUMNS))}, %s, %s, %s, %s)"
                " ON CONFLICT (isin) DO NOTHING",
                (*values, event.originator_id, event.timestamp, event.timestamp, position),
            )
        elif isinstance(event, SUSPENDED | RESUMED):
            cur.execute(
                "UPDATE instruments_view SET suspended = %s, suspension_reason = %s, position = %s"
                " WHERE instrument_id = %s AND position < %s",
                (
                    isinstance(event, SUSPENDED),
                    getattr(event, "reason", None),
                    position,
                    event.originator_id,
                    position,
                ),
            )
        elif isinstance(event, PRICE_SET):
            cur.execute(
                "UPDATE instruments_view SET reference_clean_price = %s, reference_price_as_of = %s, position = %s"
                " WHERE instrument_id = %s AND position < %s",
                (event.clean_price, event.as_of, position, event.originator_id, position),
            )
        elif isinstance(event, HOLIDAY_ADDED):
            cur.execute(
                "INSERT INTO market_holidays (market, day, name) VALUES ('IN', %s, %s) ON CONFLICT DO NOTHING",
                (event.day, event.name),
            )
