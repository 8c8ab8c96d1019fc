"""Break resolution and sandbox fault switches: `retry` / `force-cancel` a settlement (`ops:settlements`,
never on one's own trade) and `POST` / `DELETE /v1/sandbox/faults` (`admin`, 404 in prod)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends

from bondflow.api.deps import ContainerDep, JsonBody, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.auth.principal import Principal
from bondflow.domain.policy import ensure_not_own_trade
from bondflow.errors import InvalidRequest, NotFound

router = APIRouter(prefix="/v1", tags=["settlement"])

Operator = Annotated[Principal, Depends(require_scope("ops:settlements"))]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
FAULT_MODES = ("fail_next", "timeout_next", "fail_rate")
FAULT_TARGETS = ("payments", "chain", "kyc", "venue")


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


def _sandbox_faults(container: Any, target: Any) -> Any:
    if container.settings.is_prod:
        raise NotFound("not found")
    if target not in FAULT_TARGETS:
        raise InvalidRequest(
            "unknown fault target", {"fields": {"target": f"one of {', '.join(FAULT_TARGETS)}"}}
        )
    faults = container.settlement.faults.get(target)
    if faults is None:
        raise InvalidRequest(
            f"the {target} sandbox has no fault switches yet", {"fields": {"target": "payments or chain"}}
        )
    return faults


def _rate(value: Any) -> float:
    """A probability between 0 and 1, given as a JSON number or a decimal string."""
    try:
        rate = (
            Decimal(str(value))
            if isinstance(value, int | str | Decimal) and not isinstance(value, bool)
            else None
        )
    except InvalidOperation:
        rate = None
    if rate is None or not rate.is_finite() or not 0 <= rate <= 1:
        raise InvalidRequest("fail_rate needs a value between 0 and 1", {"fields": {"value": "0 … 1"}})
    return float(rate)


@router.post("/sandbox/faults", status_code=202)
def set_fault(
    _admin: Admin, container: ContainerDep, request_id: RequestId, body: JsonBody
) -> EnvelopeResponse:
    faults = _sandbox_faults(container, body.get("target"))
    mode, value = body.get("mode"), body.get("value")
    if mode not in FAULT_MODES:
        raise InvalidRequest("unknown fault mode", {"fields": {"mode": f"one of {', '.join(FAULT_MODES)}"}})
    rate = _rate(value) if mode == "fail_rate" else None
    faults.set(mode, rate)
    return ok({"target": body["target"], "mode": mode, "value": rate}, request_id, status=202)


@router.delete("/sandbox/faults")
def clear_faults(_admin: Admin, container: ContainerDep, request_id: RequestId) -> EnvelopeResponse:
    if container.settings.is_prod:
        raise NotFound("not found")
    for faults in container.settlement.faults.values():
        faults.clear()
    return ok({"cleared": sorted(container.settlement.faults)}, request_id)
