"""Portfolio query routes: holdings valued server-side, and the coupon calendar with TDS."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from bondflow.api.deps import ContainerDep, MinPosition, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.auth.principal import Principal
from bondflow.clock import business_date
from projections import instruments_queries
from projections.holdings_view import holdings_of
from projections.portfolio import totals, upcoming_coupons, value_holding
from projections.waiting import await_position

router = APIRouter(prefix="/v1/portfolio", tags=["portfolio"])

PortfolioReader = Annotated[Principal, Depends(require_scope("portfolio:read"))]


@router.get("/holdings")
def get_holdings(
    principal: PortfolioReader,
    container: ContainerDep,
    request_id: RequestId,
    min_position: MinPosition = None,
) -> EnvelopeResponse:
    await_position(container, "holdings_view", min_position)
    calendar = instruments_queries.business_calendar(container.db)
    today = business_date(container.clock)
    settlement = calendar.next_business_day(today)
    rows: list[dict[str, Any]] = []
    for holding in holdings_of(container.db, principal.subject):
        bond = instruments_queries.get_instrument(container.db, holding.isin)
        rows.append(value_holding(holding, bond, calendar, settlement))
    return ok(
        {"holdings": rows, "totals": totals(rows), "valued_for_settlement": settlement},
        request_id,
        units="prices per 100 face; money in INR",
    )


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
