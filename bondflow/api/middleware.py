"""Per-request plumbing: request id, security headers, latency metrics and one access log line."""

from __future__ import annotations

import time

import structlog
from fastapi import FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

    app.add_middleware(RequestPlumbing, metrics=metrics)


class RequestPlumbing:
    """Request id and trace context, security headers, latency metric and the access log line, as a plain
    ASGI middleware: `@app.middleware("http")` (Starlette's `BaseHTTPMiddleware`) ran every request
    through a task group and memory streams of its own, and rebuilt the response as a stream."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = request_id_from(headers.get("x-request-id"))
        trace_id, traceparent = traceparent_from(headers.get("traceparent"))
        state = scope.setdefault("state", {})  # what `request.state` reads
        state["request_id"] = request_id
        state["traceparent"] = traceparent
        docs = str(scope.get("path", "")).startswith("/docs")
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                out = MutableHeaders(scope=message)
                out["X-Request-ID"] = request_id
                out["traceparent"] = traceparent
                for name, value in SECURITY_HEADERS.items():
                    out.setdefault(name, value)
                if docs:
                    out["Content-Security-Policy"] = DOCS_CSP
            await send(message)

        token = current_request_id.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id, trace_id=trace_id)
        started = time.perf_counter()
        try:
            try:
                await self.app(scope, receive, send_with_headers)
            except ClientDisconnect:  # not our failure, and no stack trace to render: under overload clients
                log.info("client disconnected before its request was read")  # give up; tracebacks cost CPU
                if not status:
                    await Response(status_code=CLIENT_CLOSED)(scope, receive, send_with_headers)
            except Exception:  # errors escaping the handlers still get the envelope, never a stack trace
                log.exception("unhandled error in request pipeline")
                if status:
                    raise  # the answer had begun: nothing sound can be sent any more
                failed = failure("BF-INT-001", "internal error", {}, request_id, status=500)
                await failed(scope, receive, send_with_headers)
        finally:
            structlog.contextvars.unbind_contextvars("request_id", "trace_id")
            current_request_id.reset(token)
        elapsed = time.perf_counter() - started
        route = str(getattr(scope.get("route"), "path", "unmatched"))
        self.metrics.request_latency.labels(scope["method"], route, str(status)).observe(elapsed)
        log.info(
            "request",
            method=scope["method"],
            route=route,
            status=status,
            ms=round(elapsed * 1000, 2),
            request_id=request_id,
        )
