"""Payment query routes: one payment (own only), the escrow balance, and the operators' list of payments
(breaks), from the escrow read models."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from bondflow.api.deps import ContainerDep, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.domain.escrow import PaymentStatus
from bondflow.errors import NotFound
from bondflow.security.principal import Principal
from projections.base.waiting import caught_up
from projections.escrow import projector as escrow_view

router = APIRouter(prefix="/v1", tags=["payments"])

PaymentsReader = Annotated[Principal, Depends(require_scope("payments:read"))]
PaymentId = Annotated[str, Path(max_length=128)]
Operator = Annotated[Principal, Depends(require_scope("ops:settlements"))]


def shape(row: escrow_view.PaymentRow) -> dict[str, object]:
    return {
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


@router.get("/payments/{payment_id}", dependencies=[caught_up(escrow_view.EscrowProjector.name)])
def get_payment(
    payment_id: PaymentId,
    principal: PaymentsReader,
    container: ContainerDep,
    request_id: RequestId,
) -> EnvelopeResponse:
    row = escrow_view.get_payment(container.db, payment_id, owner=principal.subject)
    if row is None:
        raise NotFound("payment not found", {"payment_id": payment_id})
    return ok(shape(row), request_id)


@router.get("/ops/payments", dependencies=[caught_up(escrow_view.EscrowProjector.name)])
def list_payments(
    _principal: Operator,
    container: ContainerDep,
    request_id: RequestId,
    status: Annotated[PaymentStatus | None, Query(description="BROKEN lists the breaks")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> EnvelopeResponse:
    """Payments for operators (`status=BROKEN`: the breaks to resolve), with their owner."""
    rows = escrow_view.list_payments(container.db, None if status is None else status.value, limit)
    return ok([{**shape(r), "user_id": r.user_id} for r in rows], request_id)


@router.get("/escrow/balance", dependencies=[caught_up(escrow_view.EscrowProjector.name)])
def get_balance(
    principal: PaymentsReader,
    container: ContainerDep,
    request_id: RequestId,
) -> EnvelopeResponse:
    balance = escrow_view.get_balance(container.db, principal.subject)
    data = {
        "available": balance.available,
        "reserved": balance.reserved,
        "pending_withdrawal": balance.pending_withdrawal,
        "currency": balance.currency,
        "updated_at": balance.updated_at,
    }
    return ok(data, request_id)
