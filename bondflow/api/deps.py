"""FastAPI dependencies as `Annotated` aliases: the container, the caller, scopes and the exact JSON body."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request

from bondflow.auth.principal import Principal
from bondflow.container import Container
from bondflow.errors import Forbidden, InvalidRequest, Unauthenticated

MAX_BODY_BYTES = 64 * 1024


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_request_id(request: Request) -> str:
    return str(request.state.request_id)


def get_principal(request: Request, container: Annotated[Container, Depends(get_container)]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing bearer token")
    return container.tokens.verify(token.strip())


ContainerDep = Annotated[Container, Depends(get_container)]
RequestId = Annotated[str, Depends(get_request_id)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def require_scope(scope: str) -> Callable[[Principal], Principal]:
    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_scope(scope):
            raise Forbidden(f"this action needs the '{scope}' scope", {"required_scope": scope})
        return principal

    return check


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


async def exact_json_body(request: Request) -> dict[str, Any]:
    """Parse the body exactly: JSON numbers become `Decimal`/`int`, never binary floats."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise InvalidRequest("body must be application/json", {"fields": {"content-type": content_type}})
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequest("body is too large", {"max_bytes": MAX_BODY_BYTES})
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise InvalidRequest("body is not valid JSON", {"fields": {"body": "invalid JSON"}}) from exc
    if not isinstance(data, dict):
        raise InvalidRequest("body must be a JSON object", {"fields": {"body": "expected an object"}})
    return data


JsonBody = Annotated[dict[str, Any], Depends(exact_json_body)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
MinPosition = Annotated[
    int | None, Query(ge=0, le=2**62, description="wait until the read model has this log position")
]
