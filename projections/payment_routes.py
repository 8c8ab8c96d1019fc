"""Payment query routes: one payment (own only) and the escrow balance, from the escrow read models."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from bondflow.api.deps import ContainerDep, MinPosition, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.auth.principal import Principal
from bondflow.errors import NotFound
from projections import escrow_view
from projections.waiting import await_position

router = APIRouter(prefix="/v1", tags=["payments"])

PaymentsReader = Annotated[Principal, Depends(require_scope("payments:read"))]
PaymentId = Annotated[str, Path(max_length=128)]


@router.get("/payments/{payment_id}")
def get_payment(
    payment_id: PaymentId,
    principal: PaymentsReader,
    container: ContainerDep,
    request_id: RequestId,
    min_position: MinPosition = None,
) -> EnvelopeResponse:
    await_position(container, escrow_view.EscrowProjector.name, min_position)
    row = escrow_view.get_payment(container.db, payment_id, owner=principal.subject)
    if row is None:
        raise NotFound("payment not found", {"payment_id": payment_id})
    data = {
        "payment_id": row.payment_id,
        "kind": row.kind,
        "method": row.method,
        "amount": row.amount,
        "currency": "INR",
        "status": row.status,
        "reference": row.reference,
        "reason": row.reason,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    return ok(data, request_id)


@router.get("/escrow/balance")
def get_balance(
    principal: PaymentsReader,
    container: ContainerDep,
    request_id: RequestId,
    min_position: MinPosition = None,
) -> EnvelopeResponse:
    await_position(container, escrow_view.EscrowProjector.name, min_position)
    balance = escrow_view.get_balance(container.db, principal.subject)
    data = {
        "available": balance.available,
        "reserved": balance.reserved,
        "pending_withdrawal": balance.pending_withdrawal,
        "currency": balance.currency,
        "updated_at": balance.updated_at,
    }
    return ok(data, request_id)
