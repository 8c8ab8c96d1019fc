"""Settlement queries: an investor's own trade settlement (legs, references, history) and the ops list."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from bondflow.api.deps import ContainerDep, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.domain.settlement import SettlementState
from bondflow.security.principal import Principal
from projections.base.waiting import caught_up
from projections.settlements import projector as settlements_view

router = APIRouter(prefix="/v1", tags=["settlement"])

OrdersReader = Annotated[Principal, Depends(require_scope("orders:read"))]
Operator = Annotated[Principal, Depends(require_scope("ops:settlements"))]


def shape(row: dict[str, Any]) -> dict[str, Any]:
    """The API shape: the saga's state, its two legs with their references, and the history."""
    return {
        "settlement_id": row["settlement_id"],
        "trade_id": row["trade_id"],
        "order_id": row["order_id"],
        "isin": row["isin"],
        "side": row["side"],
        "qty": row["qty"],
        "consideration": row["consideration"],
        "state": row["state"],
        "failure": None
        if row["failure_code"] is None and row["state"] != "BROKEN"
        else {"code": row["failure_code"], "reason": row["reason"]},
        "legs": {
            "payment": {"state": row["payment_state"], "reference": row["payment_reference"]},
            "token": {"state": row["token_state"], "tx_hash": row["tx_hash"]},
        },
        "deadline": None
        if row["deadline_at"] is None
        else {"step": row["deadline_step"], "at": row["deadline_at"]},
        "history": row["history"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


@router.get("/trades/{trade_id}/settlement", dependencies=[caught_up("settlements_view")])
def get_trade_settlement(
    trade_id: UUID,
    principal: OrdersReader,
    container: ContainerDep,
    request_id: RequestId,
) -> EnvelopeResponse:
    owner = principal.subject if principal.sees_only_own else None
    return ok(shape(settlements_view.by_trade(container.db, trade_id, owner=owner)), request_id)


@router.get("/ops/settlements", dependencies=[caught_up("settlements_view")])
def list_settlements(
    _principal: Operator,
    container: ContainerDep,
    request_id: RequestId,
    state: Annotated[SettlementState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> EnvelopeResponse:
    rows = settlements_view.list_by_state(container.db, None if state is None else state.value, limit)
    return ok([shape(r) for r in rows], request_id)
