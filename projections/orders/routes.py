"""Query routes: they read projections only, optionally waiting for `min_position` (read-your-writes)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from bondflow.api.deps import ContainerDep, IsoDate, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.domain.orders import OrderStatus
from bondflow.domain.values import Isin
from bondflow.errors import InvalidRequest
from bondflow.security.principal import Principal
from projections.analytics import fill_analytics, order_flow
from projections.base.pagination import Sort
from projections.base.waiting import caught_up
from projections.orders import queries as orders_queries
from projections.trades import projector as trades_view

router = APIRouter(prefix="/v1", tags=["queries"])

OrdersReader = Annotated[Principal, Depends(require_scope("orders:read"))]
AnalyticsReader = Annotated[Principal, Depends(require_scope("analytics:read"))]
Limit = Annotated[int, Query(ge=1, le=100)]


def _order(row: orders_queries.OrderRow) -> dict[str, Any]:
    return {
        "order_id": row.order_id,
        "isin": row.isin,
        "side": row.side,
        "qty": row.qty,
        "limit_clean_price": row.limit_clean_price,
        "status": row.status,
        "filled_qty": row.filled_qty,
        "remaining_qty": row.remaining_qty,
        "cancelled_qty": row.cancelled_qty,
        "fills": row.fills,
        "routed_to": row.routed_to,
        "settlement_state": None,
        "reasons": row.reasons,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


@router.get("/orders", dependencies=[caught_up("orders_view")])
def list_orders(
    principal: OrdersReader,
    container: ContainerDep,
    request_id: RequestId,
    status: Annotated[OrderStatus | None, Query()] = None,
    isin: Annotated[str | None, Query(max_length=12)] = None,
    sort: Annotated[
        str | None,
        Query(
            pattern="^-?(created_at|updated_at)$", description="created_at or updated_at, '-' for descending"
        ),
    ] = None,
    limit: Limit = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> EnvelopeResponse:
    page = orders_queries.list_orders(
        container.db,
        owner=principal.subject if principal.sees_only_own else None,
        status=None if status is None else status.value,
        isin=None if isin is None else Isin.parse(isin).value,
        sort=Sort.parse(sort, orders_queries.SORTABLE, "-created_at"),
        limit=limit,
        cursor=cursor,
    )
    return ok([_order(r) for r in page.items], request_id, next_cursor=page.next_cursor)


@router.get("/orders/{order_id}", dependencies=[caught_up("orders_view")])
def get_order(
    order_id: UUID,
    principal: OrdersReader,
    container: ContainerDep,
    request_id: RequestId,
) -> EnvelopeResponse:
    row = orders_queries.get_order(
        container.db, order_id, owner=principal.subject if principal.sees_only_own else None
    )
    return ok(_order(row), request_id)


@router.get("/analytics/order-flow", dependencies=[caught_up("order_flow")])
def get_order_flow(
    _principal: AnalyticsReader,
    container: ContainerDep,
    request_id: RequestId,
    isin: Annotated[str | None, Query(max_length=12)] = None,
    from_: Annotated[IsoDate | None, Query(alias="from")] = None,
    to: Annotated[IsoDate | None, Query()] = None,
) -> EnvelopeResponse:
    if from_ is not None and to is not None and from_ > to:
        raise InvalidRequest("from must not be after to", {"fields": {"from": "after 'to'"}})
    rows = order_flow.order_flow(
        container.clickhouse, isin=None if isin is None else Isin.parse(isin).value, start=from_, end=to
    )
    data = [
        {
            "isin": r.isin,
            "side": r.side,
            "date": r.day,
            "orders": r.orders,
            "qty": r.qty,
            "accepted": r.accepted,
            "rejected": r.rejected,
            "cancelled": r.cancelled,
        }
        for r in rows
    ]
    return ok(data, request_id)


@router.get("/trades", dependencies=[caught_up("trades_view")])
def list_trades(
    principal: OrdersReader,
    container: ContainerDep,
    request_id: RequestId,
    isin: Annotated[str | None, Query(max_length=12)] = None,
    limit: Limit = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> EnvelopeResponse:
    rows, next_cursor = trades_view.list_trades(
        container.db,
        owner=principal.subject if principal.sees_only_own else None,
        isin=None if isin is None else Isin.parse(isin).value,
        limit=limit,
        cursor=cursor,
    )
    return ok(rows, request_id, next_cursor=next_cursor)


@router.get("/analytics/fills", dependencies=[caught_up("fill_analytics")])
def get_fill_analytics(
    _principal: AnalyticsReader,
    container: ContainerDep,
    request_id: RequestId,
    isin: Annotated[str | None, Query(max_length=12)] = None,
    from_: Annotated[IsoDate | None, Query(alias="from")] = None,
    to: Annotated[IsoDate | None, Query()] = None,
) -> EnvelopeResponse:
    parsed = None if isin is None else Isin.parse(isin).value
    rows = fill_analytics.fills_by_dealer(container.clickhouse, isin=parsed, start=from_, end=to)
    records = fill_analytics.dealer_records(container.clickhouse, parsed)
    dealers = [
        {
            "dealer": r.dealer,
            "rfqs": r.rfqs,
            "fills": r.fills,
            "fill_ratio": r.fill_ratio.quantize(Decimal("0.0001")),
            "avg_improvement_bp": r.avg_improvement_bp,
        }
        for r in sorted(records.values(), key=lambda r: r.dealer)
    ]
    return ok({"by_dealer_isin_side": rows, "dealers": dealers}, request_id)
