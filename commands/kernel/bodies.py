"""Exact JSON bodies, parsed one way for every request and webhook: numbers become `Decimal` or `int`
(never a binary float), `NaN`/`Infinity` are refused, and the body must be a JSON object."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from bondflow.errors import InvalidRequest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def exact_json(raw: bytes, what: str = "body") -> dict[str, Any]:
    """The JSON object in `raw`; `InvalidRequest` naming `what` ("body", "webhook body") otherwise."""
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"{what} is not valid JSON", {"fields": {"body": "invalid JSON"}}) from exc
    if not isinstance(data, dict):
        raise InvalidRequest(f"{what} must be a JSON object", {"fields": {"body": "expected an object"}})
    return data
