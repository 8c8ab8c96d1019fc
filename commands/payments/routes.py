"""Payment command routes: deposits and withdrawals (Idempotency-Key required), the provider's webhook, and
the operators' resolution of a payment break."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from bondflow.api.deps import ContainerDep, IdempotencyKey, JsonBody, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.security.principal import Principal
from commands.investors.routes import RawBody
from commands.kernel.context import CommandContext
from commands.payments.handlers import PaymentRequest
from commands.payments.outcomes import bank_amount_from
from commands.trading.routes import _answer as answer

router = APIRouter(prefix="/v1/payments", tags=["payments"])

PaymentsWriter = Annotated[Principal, Depends(require_scope("payments:write"))]
Operator = Annotated[Principal, Depends(require_scope("ops:settlements"))]
ops_router = APIRouter(prefix="/v1/ops/payments", tags=["payments"])
RESOLVE_SCHEMA: dict[str, object] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "bank_amount": {
                            "type": ["string", "number"],
                            "example": "25000.00",
                            "description": "INR the bank statement shows for this payment (0: nothing); "
                            "omit to settle on the provider's answer alone",
                        }
                    },
                }
            }
        },
    }
}


def _schema(method_required: bool) -> dict[str, object]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["amount", "method"] if method_required else ["amount"],
                        "properties": {
                            "amount": {
                                "type": ["string", "number"],
                                "example": "25000.00",
                                "description": "INR, at most 2 places",
                            },
                            "method": {
                                "type": "string",
                                "enum": ["UPI", "RTGS", "NEFT"],
                                "description": "UPI ≤ 1,00,000; RTGS ≥ 2,00,000"
                                + ("" if method_required else "; default NEFT"),
                            },
                        },
                    }
                }
            },
        }
    }


@router.post("/deposits", status_code=202, openapi_extra=_schema(True))
def deposit(
    principal: PaymentsWriter,
    body: JsonBody,
    container: ContainerDep,
    request_id: RequestId,
    idempotency_key: IdempotencyKey = None,
) -> EnvelopeResponse:
    command = PaymentRequest.from_body(body)
    ctx = CommandContext(principal, request_id, idempotency_key)
    return answer(container.payments.commands.deposit(command, ctx), request_id)


@router.post("/withdrawals", status_code=202, openapi_extra=_schema(False))
def withdraw(
    principal: PaymentsWriter,
    body: JsonBody,
    container: ContainerDep,
    request_id: RequestId,
    idempotency_key: IdempotencyKey = None,
) -> EnvelopeResponse:
    command = PaymentRequest.from_body(body, method_required=False)
    ctx = CommandContext(principal, request_id, idempotency_key)
    return answer(container.payments.commands.withdraw(command, ctx), request_id)


@router.post("/webhook", status_code=202)
def payments_webhook(
    request: Request, raw: RawBody, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    result = container.payments.commands.receive_webhook(request.headers, raw, request_id)
    return ok(result.data, request_id, status=202, position=result.position)


@ops_router.post("/{payment_id}/resolve", status_code=202, openapi_extra=RESOLVE_SCHEMA)
def resolve_payment_break(
    payment_id: Annotated[str, Path(max_length=128)],
    principal: Operator,
    body: JsonBody,
    container: ContainerDep,
    request_id: RequestId,
) -> EnvelopeResponse:
    """Settle a payment break: the provider is asked again; its final answer (and the bank statement's
    amount, when given, which must agree with it) confirms or fails the payment (`409 BF-PAY-007` if not)."""
    bank_amount = bank_amount_from(body)
    recorded = container.payments.reconciler.resolve(
        payment_id, bank_amount, operator=principal.subject, request_id=request_id
    )
    data = {"payment_id": payment_id, "status": recorded.status.value, "applied": recorded.applied}
    return ok(data, request_id, status=202, position=recorded.position)
