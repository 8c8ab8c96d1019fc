"""The sandbox's fault switches (`admin`, 404 in prod): `POST /v1/sandbox/faults` turns one on,
`GET` lists what is on, `DELETE` turns them all off. They live in PostgreSQL, so every process's sandbox
adapters (API, workers) see them at once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from bondflow.adapters.sandbox_faults import MODES, RATES, SUPPORTED, TARGETS, checked
from bondflow.api.deps import ContainerDep, JsonBody, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.errors import InvalidRequest, NotFound
from bondflow.security.principal import Principal

router = APIRouter(prefix="/v1", tags=["sandbox"])

Admin = Annotated[Principal, Depends(require_scope("admin"))]


def _sandbox_only(container: Any) -> None:
    if container.settings.is_prod:
        raise NotFound("not found")


@router.post("/sandbox/faults", status_code=202)
def set_fault(
    _admin: Admin, container: ContainerDep, request_id: RequestId, body: JsonBody
) -> EnvelopeResponse:
    _sandbox_only(container)
    extra = sorted(set(body) - {"target", "mode", "value"})
    if extra:  # was ignored: the published body forbids other fields
        raise InvalidRequest(
            f"unknown fields: {', '.join(extra)}", {"fields": dict.fromkeys(extra, "not allowed")}
        )
    target, mode, value = body.get("target"), body.get("mode"), body.get("value")
    if target not in TARGETS:
        raise InvalidRequest("unknown fault target", {"fields": {"target": f"one of {', '.join(TARGETS)}"}})
    if mode not in MODES:
        raise InvalidRequest("unknown fault mode", {"fields": {"mode": f"one of {', '.join(MODES)}"}})
    try:
        rate = checked(target, mode, value)
    except ValueError as exc:
        field = "value" if mode in SUPPORTED[target] else "mode"
        raise InvalidRequest(str(exc), {"fields": {field: _expected(target, mode)}}) from exc
    container.faults[target].set(mode, rate)
    return ok(
        {"target": target, "mode": mode, "value": None if rate is None else str(rate)}, request_id, status=202
    )


@router.get("/sandbox/faults")
def list_faults(_admin: Admin, container: ContainerDep, request_id: RequestId) -> EnvelopeResponse:
    _sandbox_only(container)
    data = {
        target: {mode: None if v is None else str(v) for mode, v in switches.switches().items()}
        for target, switches in container.faults.items()
    }
    return ok(data, request_id)


@router.delete("/sandbox/faults")
def clear_faults(_admin: Admin, container: ContainerDep, request_id: RequestId) -> EnvelopeResponse:
    _sandbox_only(container)
    for switches in container.faults.values():
        switches.clear()
    return ok({"cleared": sorted(container.faults)}, request_id)


def _expected(target: str, mode: str) -> str:
    if mode in SUPPORTED[target]:
        return "a probability between 0 and 1" if mode in RATES else "no value"
    return f"one of {', '.join(SUPPORTED[target])}"
