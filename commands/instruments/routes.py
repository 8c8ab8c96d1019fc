"""Admin command routes for the bond master and the market calendar."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from bondflow.api.deps import ContainerDep, JsonBody, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.domain.values import CleanPrice, Isin
from bondflow.errors import InvalidRequest
from bondflow.security.principal import Principal
from commands.instruments.handlers import ListInstrument, parse_date
from commands.kernel.context import CommandContext

router = APIRouter(prefix="/v1", tags=["instruments"])

InstrumentsAdmin = Annotated[Principal, Depends(require_scope("instruments:admin"))]


def _only(body: dict[str, object], allowed: set[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise InvalidRequest(
            f"unknown fields: {', '.join(extra)}", {"fields": dict.fromkeys(extra, "not allowed")}
        )


@router.post("/instruments", status_code=202)
def list_instrument(
    principal: InstrumentsAdmin, body: JsonBody, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    result = container.instruments.list_instrument(
        ListInstrument.from_body(body), CommandContext(principal, request_id)
    )
    return ok(result.data, request_id, status=202, position=result.position)


@router.post("/instruments/{isin}/suspend", status_code=202)
def suspend_instrument(
    isin: str, principal: InstrumentsAdmin, container: ContainerDep, request_id: RequestId, body: JsonBody
) -> EnvelopeResponse:
    _only(body, {"reason"})
    reason = body.get("reason", "suspended by admin")
    if not isinstance(reason, str) or not 0 < len(reason) <= 500:
        raise InvalidRequest(
            "reason: a string of 1-500 characters", {"fields": {"reason": "1-500 characters"}}
        )
    result = container.instruments.suspend(
        Isin.parse(isin).value, reason, CommandContext(principal, request_id)
    )
    return ok(result.data, request_id, status=202, position=result.position)


@router.post("/instruments/{isin}/resume", status_code=202)
def resume_instrument(
    isin: str, principal: InstrumentsAdmin, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    result = container.instruments.resume(Isin.parse(isin).value, CommandContext(principal, request_id))
    return ok(result.data, request_id, status=202, position=result.position)


@router.put("/instruments/{isin}/reference-price", status_code=202)
def set_reference_price(
    isin: str, principal: InstrumentsAdmin, body: JsonBody, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    _only(body, {"clean_price"})
    price = CleanPrice.parse(body.get("clean_price"), "clean_price")
    result = container.instruments.set_reference_price(
        Isin.parse(isin).value, price, CommandContext(principal, request_id)
    )
    return ok(result.data, request_id, status=202, position=result.position)


@router.post("/calendar/holidays", status_code=202)
def add_holiday(
    principal: InstrumentsAdmin, body: JsonBody, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    _only(body, {"date", "name"})
    name = body.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= 200:
        raise InvalidRequest("name: a string of 1-200 characters", {"fields": {"name": "1-200 characters"}})
    day = parse_date(body.get("date"), "date")
    result = container.instruments.add_holiday(day, name, CommandContext(principal, request_id))
    return ok(result.data, request_id, status=202, position=result.position)
