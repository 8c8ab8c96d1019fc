"""Break resolution: `retry` / `force-cancel` a settlement (`ops:settlements`, never on one's own trade)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from bondflow.api.deps import ContainerDep, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.domain.policy import ensure_not_own_trade
from bondflow.security.principal import Principal
from commands.investors.routes import RawBody

router = APIRouter(prefix="/v1", tags=["settlement"])

Operator = Annotated[Principal, Depends(require_scope("ops:settlements"))]


def _resolve(container: Any, settlement_id: UUID, principal: Principal, request_id: str, action: str) -> Any:
    commands = container.settlement.commands
    settlement = commands.get(settlement_id)
    ensure_not_own_trade(principal.subject, [settlement.user_id])
    act = commands.retry if action == "retry" else commands.force_cancel
    recorded = act(settlement_id, principal.subject, request_id)
    return {"settlement_id": settlement_id, "action": action, "recorded": recorded}


@router.post("/ops/settlements/{settlement_id}/retry", status_code=202)
def retry_settlement(
    settlement_id: UUID, principal: Operator, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    data = _resolve(container, settlement_id, principal, request_id, "retry")
    return ok(data, request_id, status=202, position=container.store.head_position())


@router.post("/ops/settlements/{settlement_id}/force-cancel", status_code=202)
def force_cancel_settlement(
    settlement_id: UUID, principal: Operator, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    data = _resolve(container, settlement_id, principal, request_id, "force-cancel")
    return ok(data, request_id, status=202, position=container.store.head_position())


@router.post("/settlement/payouts/webhook", status_code=202)
def payouts_webhook(
    request: Request, raw: RawBody, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    """The dealer-payments provider's signed callback (payouts, dealer payments in, refunds)."""
    data = container.settlement.webhook.receive(request.headers, raw)
    return ok(data, request_id, status=202, position=container.store.head_position())
