"""Tax query routes for investors: their 15G/15H declarations and Form 16A-style TDS certificate data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from bondflow.api.deps import ContainerDep, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.domain.tax_declarations import parse_financial_year
from bondflow.security.principal import Principal
from projections.base.waiting import caught_up
from projections.corporate_actions import queries as corporate_action_queries

router = APIRouter(prefix="/v1/tax", tags=["tax"])

PortfolioReader = Annotated[Principal, Depends(require_scope("portfolio:read"))]
VIEW = "corporate_actions_view"


@router.get("/declarations", dependencies=[caught_up(VIEW)])
def list_declarations(
    principal: PortfolioReader,
    container: ContainerDep,
    request_id: RequestId,
) -> EnvelopeResponse:
    return ok(corporate_action_queries.declarations_of(container.db, principal.subject), request_id)


@router.get("/tds-certificates", dependencies=[caught_up(VIEW)])
def tds_certificate(
    principal: PortfolioReader,
    container: ContainerDep,
    request_id: RequestId,
    financial_year: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}$", examples=["2026-27"])],
    quarter: Annotated[int, Query(ge=1, le=4, description="1 = Apr-Jun … 4 = Jan-Mar")],
) -> EnvelopeResponse:
    fy = parse_financial_year(financial_year)
    data = corporate_action_queries.tds_certificate(container.db, principal.subject, fy, quarter)
    return ok(data, request_id, units="INR")
