"""Portfolio query routes: holdings valued server-side, and the coupon calendar with TDS."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from bondflow.adapters.postgres import Database
from bondflow.api.deps import ContainerDep, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.errors import InvalidRequest
from bondflow.runtime.clock import IST, business_date
from bondflow.security.principal import Principal
from bondflow.wiring.as_of import read_models_as_of
from bondflow.wiring.container import Container
from bondflow.wiring.replay import as_of_moment, resolve_upto
from projections.base.waiting import caught_up
from projections.corporate_actions import coupon_calendar
from projections.holdings.projector import HoldingsProjector, holdings_of
from projections.holdings.valuation import totals, upcoming_coupons, value_holding
from projections.instruments import queries as instruments_queries
from projections.instruments.projector import InstrumentsProjector

router = APIRouter(prefix="/v1/portfolio", tags=["portfolio"])
UNITS = "prices per 100 face; money in INR"
AS_OF_READ_MODELS = frozenset(
    {HoldingsProjector.name, InstrumentsProjector.name}
)  # holdings, bonds, calendar

PortfolioReader = Annotated[Principal, Depends(require_scope("portfolio:read"))]


@router.get("/holdings", dependencies=[caught_up("holdings_view", "instruments_view")])
def get_holdings(
    principal: PortfolioReader,
    container: ContainerDep,
    request_id: RequestId,
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
    """Rebuild holdings, instruments and the calendar from the log up to `as_of` (the replay machinery, in
    temporary tables of a private session) and value them for that day, as the API would have then."""
    try:
        upto = resolve_upto(container.store, container.db, as_of)
    except ValueError:
        raise InvalidRequest(
            "as_of: a log position or an ISO-8601 time", {"fields": {"as_of": "invalid"}}
        ) from None
    with read_models_as_of(container, upto, AS_OF_READ_MODELS) as then_db:
        moment = as_of_moment(container.store, upto) if upto else None
        then = business_date(container.clock) if moment is None else moment.astimezone(IST).date()
        data = _valued(then_db, principal.subject, then)
    return ok(data, request_id, units=UNITS, as_of_position=upto)


@router.get(
    "/coupons", dependencies=[caught_up("holdings_view", "instruments_view", "corporate_actions_view")]
)
def get_coupons(
    principal: PortfolioReader,
    container: ContainerDep,
    request_id: RequestId,
) -> EnvelopeResponse:
    calendar = instruments_queries.business_calendar(container.db)
    today = business_date(container.clock)
    category = principal.attributes.get("investor_category")
    coupons: list[dict[str, Any]] = []
    bonds = {}
    for holding in holdings_of(container.db, principal.subject):
        bond = instruments_queries.get_instrument(container.db, holding.isin)
        bonds[holding.isin] = bond
        coupons.extend(upcoming_coupons(holding, bond, calendar, today, category))
    rows = coupon_calendar.calendar(
        container.db, container.corporate_actions, principal.subject, coupons, bonds
    )
    rows.sort(key=lambda c: (c["payment_date"], c["isin"]))
    return ok(rows, request_id)
