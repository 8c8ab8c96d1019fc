"""Command routes: parse, authorise, call one handler, shape the envelope."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends

from bondflow.api.deps import ContainerDep, IdempotencyKey, JsonBody, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.security.principal import Principal
from commands.kernel.context import Accepted, CommandContext
from commands.trading.orders import PlaceOrder

router = APIRouter(prefix="/v1", tags=["orders"])

OrdersWriter = Annotated[Principal, Depends(require_scope("orders:write"))]

PLACE_ORDER_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["isin", "side", "qty"],
                    "properties": {
                        "isin": {
                            "type": "string",
                            "pattern": "^[A-Z]{2}[A-Z0-9]{9}[0-9]$",
                            "example": "INE123A07043",
                        },
                        "side": {"type": "string", "enum": ["BUY", "SELL"]},
                        "qty": {
                            "type": ["string", "number"],
                            "example": "10",
                            "description": "units, up to 6 places",
                        },
                        "limit_clean_price": {
                            "type": ["string", "number", "null"],
                            "example": "99.75",
                            "description": "clean price per 100 face, up to 4 places",
                        },
                    },
                }
            }
        },
    }
}


def _answer(result: Accepted, request_id: str) -> EnvelopeResponse:
    if result.replayed:
        return ok(
            result.data,
            request_id,
            status=409,
            headers={"Idempotent-Replayed": "true"},
            position=result.position,
        )
    return ok(result.data, request_id, status=202, position=result.position)


@router.post("/orders", status_code=202, openapi_extra=PLACE_ORDER_SCHEMA)
def place_order(
    principal: OrdersWriter,
    body: JsonBody,
    container: ContainerDep,
    request_id: RequestId,
    idempotency_key: IdempotencyKey = None,
) -> EnvelopeResponse:
    command = PlaceOrder.from_body(body)
    ctx = CommandContext(principal, request_id, idempotency_key)
    return _answer(container.trading.orders.place(command, ctx), request_id)


@router.post("/orders/{order_id}/cancel", status_code=202)
def cancel_order(
    order_id: UUID,
    principal: OrdersWriter,
    container: ContainerDep,
    request_id: RequestId,
    idempotency_key: IdempotencyKey = None,
) -> EnvelopeResponse:
    ctx = CommandContext(principal, request_id, idempotency_key)
    return _answer(container.trading.orders.cancel(order_id, ctx), request_id)
