"""Queries over the bond master and the holiday calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from psycopg import sql

from bondflow.adapters.postgres import Database
from bondflow.domain.bonds import BondTerms, BusinessCalendar, DayCount
from bondflow.domain.instruments import MarketState
from bondflow.errors import NotFound
from projections.pagination import Sort, decode_cursor, encode_cursor

COLUMNS = (
    "isin, issuer, name, coupon_rate, coupon_frequency, issue_date, maturity_date, face_value, day_count, rating,"
    " rating_bucket, eligible_investor_categories, allowed_residencies, record_date_days, lockup_until,"
    " reference_clean_price, reference_price_as_of, price_band_pct, suspended, suspension_reason"
)
SORTABLE = {"isin": "isin", "maturity_date": "maturity_date"}


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
        return BondTerms(
            coupon_rate=self.coupon_rate.normalize(),
            coupon_frequency=self.coupon_frequency,
            issue_date=self.issue_date,
            maturity_date=self.maturity_date,
            face_value=self.face_value,
            day_count=DayCount(self.day_count),
        )

    def state_on(self, today: date) -> MarketState:
        if today >= self.maturity_date:
            return MarketState.MATURED
        return MarketState.SUSPENDED if self.suspended else MarketState.TRADABLE

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
    where: list[sql.Composable] = []
    params: list[Any] = []
    for column, value in (("issuer", issuer), ("rating_bucket", rating_bucket)):
        if value is not None:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    key = sql.Identifier(sort.column)
    cast = sql.SQL("date" if sort.column == "maturity_date" else "text")
    if cursor is not None:
        last_value, last_isin = decode_cursor(cursor, sort)
        op = sql.SQL("<" if sort.descending else ">")
        where.append(sql.SQL("({}, isin) {} (%s::{}, %s)").format(key, op, cast))
        params.extend([last_value, last_isin])
    direction = sql.SQL("DESC" if sort.descending else "ASC")
    query = sql.SQL(
        "SELECT {cols} FROM instruments_view {where} ORDER BY {key} {dir}, isin {dir} LIMIT %s"
    ).format(
        cols=sql.SQL(COLUMNS),
        where=sql.SQL("WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
        key=key,
        dir=direction,
    )
    params.append(limit + 1)
    with db.cursor() as cur:
        rows = [InstrumentRow(*r) for r in cur.execute(query, params).fetchall()]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor(sort, [str(getattr(last, sort.column)), last.isin])
    return rows, next_cursor


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
