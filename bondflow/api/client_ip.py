"""The client's address: the TCP peer, or, when the peer is a configured proxy (`BONDFLOW_TRUSTED_PROXIES`),
the first address in `X-Forwarded-For` that is not itself a trusted proxy, read from the right.

With no trusted proxies (the default) forwarded headers are ignored, so a made-up `X-Forwarded-For` changes
nothing; uvicorn's own proxy-header handling is switched off (`bondflow serve`) for the same reason.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from fastapi import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None, proxies: Sequence[Network]
) -> bool:
    return address is not None and any(address in network for network in proxies)


def forwarded_client(peer: str, forwarded_for: list[str], proxies: Sequence[Network]) -> str:
    """`peer` unless it is a trusted proxy; then the right-most forwarded hop that is not one."""
    nearest = peer
    if not _trusted(_address(peer), proxies):
        return peer
    for hop in reversed(forwarded_for):
        address = _address(hop)
        if address is None:  # a garbled hop: believe no further than the proxy that passed it on
            return nearest
        if not _trusted(address, proxies):
            return str(address)
        nearest = str(address)
    return nearest


def client_ip(request: Request) -> str:
    peer = request.client.host if request.client else "unknown"
    proxies = request.app.state.container.settings.trusted_proxy_networks
    if not proxies:
        return peer
    hops = [h for value in request.headers.getlist("x-forwarded-for") for h in value.split(",") if h.strip()]
    return forwarded_client(peer, hops, proxies)
