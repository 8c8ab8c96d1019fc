"""FastAPI dependencies as `Annotated` aliases: the container, the caller, scopes and the exact JSON body."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from pydantic import BeforeValidator

from bondflow.errors import Forbidden, InvalidRequest, Unauthenticated
from bondflow.security.principal import Principal
from bondflow.wiring.container import Container
from commands.kernel.bodies import exact_json

MAX_BODY_BYTES = 64 * 1024
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_only(raw: object) -> object:
    """A query date is `YYYY-MM-DD` and nothing else (pydantic would also read `0` as 1970-01-01)."""
    if isinstance(raw, str) and not _ISO_DATE.fullmatch(raw):
        raise ValueError("a date as YYYY-MM-DD")
    return raw


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


# Trivial dependencies are `async`: FastAPI runs a plain `def` dependency on the worker thread pool, and a
# thread hop per request for reading request state would queue every route behind busy threads.
async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


async def get_request_id(request: Request) -> str:
    return str(request.state.request_id)


def get_principal(request: Request, container: Annotated[Container, Depends(get_container)]) -> Principal:
    known: Principal | None = getattr(request.state, "principal", None)  # verified once per request
    if known is not None:
        return known
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("missing bearer token")
    principal = container.tokens.verify(token.strip())
    request.state.principal = principal
    return principal


ContainerDep = Annotated[Container, Depends(get_container)]
RequestId = Annotated[str, Depends(get_request_id)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


SCOPE_CHECKS: dict[Callable[..., Any], str] = {}  # each `require_scope` check and its scope (rate limits)


def require_scope(scope: str) -> Callable[[Principal], Principal]:
    def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_scope(scope):
            raise Forbidden(f"this action needs the '{scope}' scope", {"required_scope": scope})
        return principal

    SCOPE_CHECKS[check] = scope
    return check


async def exact_json_body(request: Request) -> dict[str, Any]:
    """Parse the body exactly: JSON numbers become `Decimal`/`int`, never binary floats."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise InvalidRequest("body must be application/json", {"fields": {"content-type": content_type}})
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidRequest("body is too large", {"max_bytes": MAX_BODY_BYTES})
    return exact_json(raw)


JsonBody = Annotated[dict[str, Any], Depends(exact_json_body)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
MinPosition = Annotated[
    int | None, Query(ge=0, le=2**62, description="wait until the read model has this log position")
]
