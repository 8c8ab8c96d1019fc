"""Per-request plumbing: request id, security headers, latency metrics and one access log line."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect

from bondflow.api.body_limit import BodyLimit
from bondflow.api.deps import MAX_BODY_BYTES
from bondflow.api.envelope import failure
from bondflow.api.request_context import current_request_id, request_id_from, traceparent_from
from bondflow.runtime.metrics import Metrics

log = structlog.get_logger("bondflow.access")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
CLIENT_CLOSED = 499  # the client went away before its request was read: nobody gets an answer (nginx's code)
DOCS_CSP = (  # no inline script (the docs start-up is a served file); Swagger UI sets inline styles
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _route_template(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


def install_middleware(app: FastAPI, metrics: Metrics, cors_allow_origins: list[str]) -> None:
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)  # innermost: inside the request id and headers
    app.add_middleware(
        CORSMiddleware,
        allow_origins=cors_allow_origins,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID", "traceparent"],
        expose_headers=["X-Request-ID", "Idempotent-Replayed", "Retry-After", "traceparent"],
        max_age=600,
    )

    @app.middleware("http")
    async def request_plumbing(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request_id = request_id_from(request.headers.get("x-request-id"))
        trace_id, traceparent = traceparent_from(request.headers.get("traceparent"))
        request.state.request_id = request_id
        request.state.traceparent = traceparent
        token = current_request_id.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id, trace_id=trace_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except ClientDisconnect:  # not our failure, and no stack trace to render: under overload clients give
            log.info("client disconnected before its request was read")  # up, and tracebacks cost CPU
            response = Response(status_code=CLIENT_CLOSED)
        except Exception:  # errors escaping the handlers still get the envelope, never a stack trace
            log.exception("unhandled error in request pipeline")
            response = failure("BF-INT-001", "internal error", {}, request_id, status=500)
        finally:
            structlog.contextvars.unbind_contextvars("request_id", "trace_id")
            current_request_id.reset(token)
        elapsed = time.perf_counter() - started
        route = _route_template(request)
        metrics.request_latency.labels(request.method, route, str(response.status_code)).observe(elapsed)
        response.headers["X-Request-ID"] = request_id
        response.headers["traceparent"] = traceparent
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/docs"):
            response.headers["Content-Security-Policy"] = DOCS_CSP
        log.info(
            "request",
            method=request.method,
            route=route,
            status=response.status_code,
            ms=round(elapsed * 1000, 2),
            request_id=request_id,
        )
        return response
