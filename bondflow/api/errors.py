"""The one place where errors become envelopes; nothing internal ever reaches a client."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bondflow.api.envelope import EnvelopeResponse, failure
from bondflow.errors import BondFlowError

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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BondFlowError)
    async def bondflow_error(request: Request, exc: BondFlowError) -> EnvelopeResponse:
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
        return failure(code, str(exc.detail), {}, _request_id(request), status=status, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> EnvelopeResponse:
        log.exception("unhandled error", extra={"request_id": _request_id(request)})
        return failure("BF-INT-001", "internal error", {}, _request_id(request), status=500)
