"""HTTP Strict Transport Security on answers served over TLS, directly or behind a TLS-terminating proxy.

A request counts as TLS when the server itself speaks TLS (`scheme` is https) or when it comes from a proxy
listed in `BONDFLOW_TRUSTED_PROXIES` (comma-separated IPs/CIDRs, default none) that says
`X-Forwarded-Proto: https`. A client's own `X-Forwarded-Proto` is never believed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bondflow.errors import ConfigurationError

HSTS = b"max-age=63072000; includeSubDomains"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(raw: str) -> tuple[Network, ...]:
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip()
        )
    except ValueError as exc:
        raise ConfigurationError(
            f"BONDFLOW_TRUSTED_PROXIES: {exc} (expected IPs or CIDRs, comma-separated)"
        ) from exc


def _from_trusted_proxy(scope: Scope, proxies: Sequence[Network]) -> bool:
    client = scope.get("client")
    if not proxies or not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    return any(address in network for network in proxies)


def served_over_tls(scope: Scope, proxies: Sequence[Network]) -> bool:
    if scope.get("scheme") == "https":
        return True
    if not _from_trusted_proxy(scope, proxies):
        return False
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-proto":
            nearest = bytes(value).split(b",")[0].strip().lower()  # as the first proxy saw it
            return nearest == b"https"
    return False


class StrictTransportSecurity:
    def __init__(self, app: ASGIApp, trusted_proxies: Sequence[Network]) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not served_over_tls(scope, self.trusted_proxies):
            await self.app(scope, receive, send)
            return

        async def with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"strict-transport-security", HSTS)]
            await send(message)

        await self.app(scope, receive, with_hsts)
