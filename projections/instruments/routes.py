"""Query routes for the bond master, the calendar and bond analytics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from bondflow.api.deps import ContainerDep, IsoDate, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.domain.values import Isin, exact_decimal
from bondflow.errors import InvalidRequest
from bondflow.runtime.clock import business_date
from bondflow.security.principal import Principal
from projections.base.pagination import Sort
from projections.base.waiting import caught_up
from projections.instruments import queries as instruments_queries
from projections.instruments.analytics import bond_analytics

router = APIRouter(prefix="/v1", tags=["instruments"])

InstrumentsReader = Annotated[Principal, Depends(require_scope("instruments:read"))]
DecimalText = Annotated[str | None, Query(max_length=40)]


@router.get("/instruments", dependencies=[caught_up("instruments_view")])
def list_instruments(
    _principal: InstrumentsReader,
    container: ContainerDep,
    request_id: RequestId,
    issuer: Annotated[str | None, Query(max_length=200)] = None,
    rating_bucket: Annotated[str | None, Query(pattern="^(SOV|AAA|AA|A|BBB|SUB_IG)$")] = None,
    sort: Annotated[
        str | None,
        Query(pattern="^-?(isin|maturity_date)$", description="isin or maturity_date, '-' for descending"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> EnvelopeResponse:
    rows, next_cursor = instruments_queries.list_instruments(
        container.db,
        issuer=issuer,
        rating_bucket=rating_bucket,
        sort=Sort.parse(sort, instruments_queries.SORTABLE, "isin"),
        limit=limit,
        cursor=cursor,
    )
    today = business_date(container.clock)
    return ok([r.as_json(today) for r in rows], request_id, next_cursor=next_cursor)


@router.get("/instruments/{isin}", dependencies=[caught_up("instruments_view")])
def get_instrument(
    isin: str,
    _principal: InstrumentsReader,
    container: ContainerDep,
    request_id: RequestId,
) -> EnvelopeResponse:
    row = instruments_queries.get_instrument(container.db, Isin.parse(isin).value)
    return ok(row.as_json(business_date(container.clock)), request_id)


@router.get("/instruments/{isin}/analytics", dependencies=[caught_up("instruments_view")])
def get_analytics(
    isin: str,
    _principal: InstrumentsReader,
    container: ContainerDep,
    request_id: RequestId,
    clean_price: DecimalText = None,
    ytm: Annotated[str | None, Query(max_length=40, description="decimal fraction: 0.0725 is 7.25%")] = None,
    settlement_date: Annotated[
        IsoDate | None, Query(description="default: the next business day (T+1)")
    ] = None,
) -> EnvelopeResponse:
    row = instruments_queries.get_instrument(container.db, Isin.parse(isin).value)
    calendar = instruments_queries.business_calendar(container.db)
    settlement = settlement_date or calendar.next_business_day(business_date(container.clock))
    price = None if clean_price is None else exact_decimal(clean_price, "clean_price")
    yield_ = None if ytm is None else exact_decimal(ytm, "ytm")
    if price is not None and price <= 0:
        raise InvalidRequest("clean_price: must be positive", {"fields": {"clean_price": "must be positive"}})
    if price is None and yield_ is None:
        price = row.reference_clean_price
    figures: dict[str, Any] = bond_analytics(row.terms, calendar, settlement, clean_price=price, ytm=yield_)
    return ok(
        {"isin": row.isin, "settlement_date": settlement, **figures},
        request_id,
        units="per 100 face; yields as decimal fractions",
    )


@router.get("/calendar/holidays")
def list_holidays(
    _principal: InstrumentsReader,
    container: ContainerDep,
    request_id: RequestId,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
) -> EnvelopeResponse:
    days = instruments_queries.holidays(container.db)
    return ok([{"date": d, "name": n} for d, n in days if year is None or d.year == year], request_id)
