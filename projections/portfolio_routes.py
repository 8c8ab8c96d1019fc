"""Portfolio query routes: holdings valued server-side, and the coupon calendar with TDS."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from bondflow.adapters.postgres import Database
from bondflow.api.deps import ContainerDep, MinPosition, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.auth.principal import Principal
from bondflow.clock import IST, business_date
from bondflow.container import Container
from bondflow.errors import InvalidRequest
from bondflow.followers import Follower
from bondflow.replay import as_of_moment, drop_schema, feed, replay_database, resolve_upto
from projections import instruments_queries
from projections.holdings_view import HoldingsProjector, holdings_of
from projections.instruments_view import InstrumentsProjector
from projections.portfolio import totals, upcoming_coupons, value_holding
from projections.waiting import await_position

router = APIRouter(prefix="/v1/portfolio", tags=["portfolio"])
UNITS = "prices per 100 face; money in INR"

PortfolioReader = Annotated[Principal, Depends(require_scope("portfolio:read"))]


@router.get("/holdings")
def get_holdings(
    principal: PortfolioReader,
    container: ContainerDep,
    request_id: RequestId,
    min_position: MinPosition = None,
    as_of: Annotated[
        str | None,
        Query(
            max_length=40,
            description="a log position or an ISO-8601 time: holdings and prices as they were then",
        ),
    ] = None,
) -> EnvelopeResponse:
    if as_of is not None:
        return _holdings_as_of(principal, container, request_id, as_of)
    await_position(container, "holdings_view", min_position)
    today = business_date(container.clock)
    return ok(_valued(container.db, principal.subject, today), request_id, units=UNITS)


def _valued(db: Database, user_id: str, today: date) -> dict[str, Any]:
    calendar = instruments_queries.business_calendar(db)
    settlement = calendar.next_business_day(today)
    rows: list[dict[str, Any]] = []
    for holding in holdings_of(db, user_id):
        bond = instruments_queries.get_instrument(db, holding.isin)
        rows.append(value_holding(holding, bond, calendar, settlement))
    return {"holdings": rows, "totals": totals(rows), "valued_for_settlement": settlement}


def _holdings_as_of(
    principal: Principal, container: Container, request_id: str, as_of: str
) -> EnvelopeResponse:
    """Rebuild holdings, instruments and the calendar from the log up to `as_of` (the replay machinery, in a
    scratch schema dropped afterwards) and value them for that day, as the API would have then."""
    try:
        upto = resolve_upto(container.store, container.db, as_of)
    except ValueError:
        raise InvalidRequest(
            "as_of: a log position or an ISO-8601 time", {"fields": {"as_of": "invalid"}}
        ) from None
    schema = f"asof_{uuid.uuid4().hex[:12]}"
    scratch = replay_database(container.db, schema)
    try:
        followers: list[Follower] = [HoldingsProjector(scratch), InstrumentsProjector(scratch)]
        for follower in followers:
            follower.setup()
        feed(container.store, followers, upto)
        moment = as_of_moment(container.store, upto) if upto else None
        then = business_date(container.clock) if moment is None else moment.astimezone(IST).date()
        data = _valued(scratch, principal.subject, then)
    finally:
        scratch.close()
        drop_schema(container.db, schema)
    return ok(data, request_id, units=UNITS, as_of_position=upto)


@router.get("/coupons")
def get_coupons(
    principal: PortfolioReader,
    container: ContainerDep,
    request_id: RequestId,
    min_position: MinPosition = None,
) -> EnvelopeResponse:
    await_position(container, "holdings_view", min_position)
    calendar = instruments_queries.business_calendar(container.db)
    today = business_date(container.clock)
    category = principal.attributes.get("investor_category")
    coupons: list[dict[str, Any]] = []
    for holding in holdings_of(container.db, principal.subject):
        bond = instruments_queries.get_instrument(container.db, holding.isin)
        coupons.extend(upcoming_coupons(holding, bond, calendar, today, category))
    coupons.sort(key=lambda c: (c["payment_date"], c["isin"]))
    return ok(coupons, request_id)
