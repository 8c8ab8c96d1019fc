"""Errors raised by the domain core when a business rule refuses a command."""

from __future__ import annotations

from typing import Any

from bondflow.errors import InvalidOrder, OrderNotCancellable

__all__ = ["InvalidOrder", "OrderNotCancellable", "field_error"]


def field_error(field: str, message: str) -> dict[str, Any]:
    """The `details` shape every field-level refusal uses: `{"fields": {name: message}}`."""
    return {"fields": {field: message}}
