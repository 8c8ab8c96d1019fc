"""Rate limits on every `/v1` route (API.md): token buckets per user (per IP when anonymous) and scope.

- `POST /v1/orders`: `BONDFLOW_ORDERS_PER_USER_PER_MINUTE` (20) and `…_PER_HOUR` (200) per user;
- other routes with a token: `BONDFLOW_REQUESTS_PER_USER_PER_MINUTE` (600) for reads and
  `BONDFLOW_WRITES_PER_USER_PER_MINUTE` (30) for writes, per user and the route's scope;
- routes without a token: `BONDFLOW_REQUESTS_PER_IP_PER_MINUTE` (300) per client IP and route group;
- login and sign-up have their own buckets (per IP, per account and IP, per account: `commands.investors.users`).

The buckets live in PostgreSQL (`bondflow.adapters.rate_buckets`), one statement per request, so every API
process shares them. Every limited answer carries `RateLimit-Policy` and `RateLimit`; a refusal is
`429 BF-RATE-001` with `Retry-After`. `BONDFLOW_RATE_LIMITS_ENABLED=false` lifts them all (load runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bondflow.adapters.rate_buckets import Bucket, TokenBuckets
from bondflow.api.client_ip import client_ip
from bondflow.api.deps import SCOPE_CHECKS, get_principal
from bondflow.errors import Unauthenticated
from bondflow.security.principal import Principal
from bondflow.security.ratelimit import rate_limit_headers, refuse_unless_granted
from bondflow.settings import Settings

MINUTE, HOUR = 60, 3600
READS = frozenset({"GET", "HEAD", "OPTIONS"})
# Limited by their own buckets in the command (per IP, per account and IP, per account).
OWN_LIMITS = frozenset({("POST", "/v1/auth/token"), ("POST", "/v1/users")})
TRADING = ("POST", "/v1/orders")


@dataclass(frozen=True, slots=True)
class RouteKind:
    scope: str  # the OAuth scope the route requires, "account" (any token) or an anonymous group
    authenticated: bool


def route_kind(route: APIRoute) -> RouteKind:
    """Read once per route from its dependencies: the `require_scope` check, or whether it needs a token."""
    stack = list(route.dependant.dependencies)
    authenticated = False
    while stack:
        dependency = stack.pop()
        if dependency.call in SCOPE_CHECKS:
            return RouteKind(SCOPE_CHECKS[dependency.call], True)
        authenticated = authenticated or dependency.call is get_principal
        stack.extend(dependency.dependencies)
    if authenticated:
        return RouteKind("account", True)
    return RouteKind("webhook" if route.path.endswith("/webhook") else "public", False)


class RouteLimits:
    def __init__(self, buckets: TokenBuckets, settings: Settings) -> None:
        self.buckets = buckets
        self.settings = settings
        self._kinds: dict[int, RouteKind] = {}

    def kind(self, route: APIRoute) -> RouteKind:
        found = self._kinds.get(id(route))
        if found is None:
            found = self._kinds[id(route)] = route_kind(route)
        return found

    def buckets_for(
        self, method: str, path: str, kind: RouteKind, principal: Principal | None, ip: str
    ) -> list[Bucket]:
        s = self.settings
        if principal is None:
            return [Bucket("requests-per-ip", f"ip:{ip}|{kind.scope}", s.requests_per_ip_per_minute, MINUTE)]
        user = f"user:{principal.subject}"
        if (method, path) == TRADING:
            return [
                Bucket("orders-per-minute", f"{user}|orders|m", s.orders_per_user_per_minute, MINUTE),
                Bucket("orders-per-hour", f"{user}|orders|h", s.orders_per_user_per_hour, HOUR),
            ]
        if method in READS:
            return [Bucket("reads", f"{user}|{kind.scope}|r", s.requests_per_user_per_minute, MINUTE)]
        return [Bucket("writes", f"{user}|{kind.scope}|w", s.writes_per_user_per_minute, MINUTE)]


def enforce_rate_limits(connection: HTTPConnection) -> None:
    """App-wide dependency: take this request's tokens, or answer 429. WebSockets are bounded by their
    route (live streams per user)."""
    if not isinstance(connection, Request):
        return
    request = connection
    container: Any = request.app.state.container  # the composition root built it (see get_container)
    limits: RouteLimits | None = getattr(container, "route_limits", None)
    route = request.scope.get("route")
    if limits is None or not isinstance(route, APIRoute) or not route.path.startswith("/v1/"):
        return
    if not container.settings.rate_limits_enabled or (request.method, route.path) in OWN_LIMITS:
        return
    kind = limits.kind(route)
    principal = None
    if kind.authenticated:
        try:
            principal = get_principal(request, container)
        except Unauthenticated:
            principal = None  # limited by IP; the route itself answers 401
    buckets = limits.buckets_for(request.method, route.path, kind, principal, client_ip(request))
    verdicts = limits.buckets.take(buckets)
    request.state.rate_limit_headers = rate_limit_headers(verdicts)
    refuse_unless_granted(verdicts)


class RateLimitHeaders:
    """ASGI middleware: copies the headers `enforce_rate_limits` computed onto the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                state: dict[str, Any] = scope.get("state") or {}
                extra = state.get("rate_limit_headers") or {}
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(
                        (k.lower().encode(), v.encode())
                        for k, v in extra.items()
                        if k.lower().encode() not in present
                    ),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
