"""The one place where errors become envelopes; nothing internal ever reaches a client."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bondflow.api.envelope import EnvelopeResponse, failure
from bondflow.errors import BondFlowError, ProjectionBehind

log = logging.getLogger(__name__)


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def _field_errors(exc: RequestValidationError) -> dict[str, str]:
    fields: dict[str, str] = {}
    for error in exc.errors():
        location = [
            str(part) for part in error.get("loc", ()) if part not in ("query", "path", "header", "body")
        ]
        fields[".".join(location) or "request"] = str(error.get("msg", "invalid"))
    return fields


def allowed_methods(request: Request) -> str:
    """The methods the published document lists for this resource: its own path first (`/v1/payments/deposits`
    is not `/v1/payments/{payment_id}`, though the router would also match the template), else the template
    that matches. Starlette's own 405 names only the first route's methods, and one path may have several."""
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    path = request.url.path
    operations = paths.get(path)
    if operations is None:
        operations = next((ops for template, ops in paths.items() if _matches(template, path)), {})
    return ", ".join(sorted(method.upper() for method in operations))


def _matches(template: str, path: str) -> bool:
    """`/v1/orders/{order_id}` matches `/v1/orders/abc`: segment by segment, a `{…}` takes any one."""
    wanted, given = template.split("/"), path.split("/")
    return len(wanted) == len(given) and all(
        w == g or (w.startswith("{") and w.endswith("}") and g) for w, g in zip(wanted, given, strict=True)
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BondFlowError)
    async def bondflow_error(request: Request, exc: BondFlowError) -> EnvelopeResponse:
        if exc.status == 500:  # an inconsistency inside: logged, never shown
            log.error("internal inconsistency: %s", exc.message, extra={"request_id": _request_id(request)})
            return failure("BF-INT-001", "internal error", {}, _request_id(request), status=500)
        return failure(
            exc.code,
            exc.message,
            exc.details,
            _request_id(request),
            status=exc.status,
            headers=exc.response_headers(),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> EnvelopeResponse:
        fields = _field_errors(exc)
        message = "; ".join(f"{k}: {v}" for k, v in fields.items())
        return failure("BF-REQ-001", message, {"fields": fields}, _request_id(request), status=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> EnvelopeResponse:
        code = "BF-NF-001" if exc.status_code == 404 else "BF-REQ-001"
        status = exc.status_code if exc.status_code < 500 else 400
        headers: dict[str, Any] = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return failure(code, str(exc.detail), {}, _request_id(request), status=status, headers=headers)

    @app.exception_handler(psycopg.errors.UndefinedTable)
    async def read_model_missing(request: Request, exc: Exception) -> EnvelopeResponse:
        """A read model whose tables its builder has not created yet (a worker process still starting, a
        fresh database): the read side is not there yet, as for a lagging one, so 503 and retry."""
        log.warning("read model not built yet: %s", exc, extra={"request_id": _request_id(request)})
        behind = ProjectionBehind("the read model is still being built; retry shortly")
        return failure(
            behind.code,
            behind.message,
            {},
            _request_id(request),
            status=503,
            headers=behind.response_headers(),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> EnvelopeResponse:
        log.exception("unhandled error", extra={"request_id": _request_id(request)})
        return failure("BF-INT-001", "internal error", {}, _request_id(request), status=500)
