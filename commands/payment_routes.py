"""Payment command routes: deposits and withdrawals (Idempotency-Key required) and the provider's webhook."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from bondflow.api.deps import ContainerDep, IdempotencyKey, JsonBody, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.auth.principal import Principal
from commands.context import CommandContext
from commands.payments import PaymentRequest
from commands.routes import _answer as answer
from commands.user_routes import RawBody

router = APIRouter(prefix="/v1/payments", tags=["payments"])

PaymentsWriter = Annotated[Principal, Depends(require_scope("payments:write"))]


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
    body: JsonBody,
    principal: PaymentsWriter,
    container: ContainerDep,
    request_id: RequestId,
    idempotency_key: IdempotencyKey = None,
) -> EnvelopeResponse:
    command = PaymentRequest.from_body(body)
    ctx = CommandContext(principal, request_id, idempotency_key)
    return answer(container.payments.commands.deposit(command, ctx), request_id)


@router.post("/withdrawals", status_code=202, openapi_extra=_schema(False))
def withdraw(
    body: JsonBody,
    principal: PaymentsWriter,
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
