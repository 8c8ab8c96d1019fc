"""Queries over the bond master and the holiday calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.domain.bonds import BondTerms, BusinessCalendar
from bondflow.domain.instruments import MarketState, market_state, terms_of
from bondflow.errors import NotFound
from projections.base.pagination import Keyset, Sort, cursor_value, encode_cursor, keyset_page

COLUMNS = (
    "isin, issuer, name, coupon_rate, coupon_frequency, issue_date, maturity_date, face_value, day_count, rating,"
    " rating_bucket, eligible_investor_categories, allowed_residencies, record_date_days, lockup_until,"
    " reference_clean_price, reference_price_as_of, price_band_pct, suspended, suspension_reason"
)
SORTABLE = {"isin": "isin", "maturity_date": "maturity_date"}
PAGED = Keyset(
    "instruments_view", COLUMNS, tie="isin", tie_cast="text", casts={"isin": "text", "maturity_date": "date"}
)


@dataclass(frozen=True, slots=True)
class InstrumentRow:
    isin: str
    issuer: str
    name: str
    coupon_rate: Decimal
    coupon_frequency: int
    issue_date: date
    maturity_date: date
    face_value: Decimal
    day_count: str
    rating: str
    rating_bucket: str
    eligible_investor_categories: list[str]
    allowed_residencies: list[str]
    record_date_days: int
    lockup_until: date | None
    reference_clean_price: Decimal
    reference_price_as_of: datetime
    price_band_pct: Decimal
    suspended: bool
    suspension_reason: str | None

    @property
    def terms(self) -> BondTerms:
        return terms_of(self)

    def state_on(self, today: date) -> MarketState:
        return market_state(self, today)

    def as_json(self, today: date) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["state"] = self.state_on(today).value
        return data


def get_instrument(db: Database, isin: str) -> InstrumentRow:
    with db.cursor() as cur:
        row = cur.execute(f"SELECT {COLUMNS} FROM instruments_view WHERE isin = %s", (isin,)).fetchone()
    if row is None:
        raise NotFound("instrument not found", {"isin": isin})
    return InstrumentRow(*row)


def list_instruments(
    db: Database, *, issuer: str | None, rating_bucket: str | None, sort: Sort, limit: int, cursor: str | None
) -> tuple[list[InstrumentRow], str | None]:
    raw, last = keyset_page(
        db,
        PAGED,
        filters={"issuer": issuer, "rating_bucket": rating_bucket},
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    rows = [InstrumentRow(*r) for r in raw]
    return rows, None if last is None else encode_cursor(sort, [cursor_value(v) for v in last])


def holidays(db: Database, market: str = "IN") -> list[tuple[date, str]]:
    with db.cursor() as cur:
        return [
            (d, n)
            for d, n in cur.execute(
                "SELECT day, name FROM market_holidays WHERE market = %s ORDER BY day", (market,)
            )
        ]


def business_calendar(db: Database) -> BusinessCalendar:
    return BusinessCalendar(frozenset(day for day, _ in holidays(db)))
