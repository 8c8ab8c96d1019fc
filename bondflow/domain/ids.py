"""Derived ids: UUIDv5 of a natural key, so a retried command lands on the same aggregate id."""

from __future__ import annotations

from uuid import UUID, uuid5

BONDFLOW_NAMESPACE = UUID("6f1d3c7e-2b9a-5e4f-9c1d-0b5a7e3f2d10")


def derived_id(kind: str, *parts: str) -> UUID:
    """`derived_id("order", user_id, idempotency_key)`: the same inputs always give the same id."""
    return uuid5(BONDFLOW_NAMESPACE, "\x1f".join((kind, *parts)))
