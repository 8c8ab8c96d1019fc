"""Derived ids: UUIDv5 of a natural key, so a retried command lands on the same aggregate id."""

from __future__ import annotations

from hashlib import sha1
from uuid import UUID, uuid5

BONDFLOW_NAMESPACE = UUID("6f1d3c7e-2b9a-5e4f-9c1d-0b5a7e3f2d10")


def natural_key(kind: str, *parts: str) -> str:
    """The name a derived id is the UUIDv5 of (stored ids depend on it: never change it)."""
    return "\x1f".join((kind, *parts))


def derived_id(kind: str, *parts: str) -> UUID:
    """`derived_id("order", user_id, idempotency_key)`: the same inputs always give the same id."""
    return uuid5(BONDFLOW_NAMESPACE, natural_key(kind, *parts))


_NAMESPACE_BYTES = BONDFLOW_NAMESPACE.bytes


def derived_id_text(kind: str, *parts: str) -> str:
    """`str(derived_id(kind, *parts))`, without building the UUID: the same RFC 4122 version-5 bytes."""
    digest = bytearray(
        sha1(_NAMESPACE_BYTES + natural_key(kind, *parts).encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"
