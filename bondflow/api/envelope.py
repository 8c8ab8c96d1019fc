"""The response envelope `{data, error, meta}`; decimals leave as strings, never floats."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from fastapi.responses import Response


def _default(obj: object) -> object:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, frozenset | set):
        return sorted(obj, key=str)
    raise TypeError(f"cannot serialise {type(obj).__name__}")


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default)


class EnvelopeResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


def ok(
    data: Any,
    request_id: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **meta: Any,
) -> EnvelopeResponse:
    return EnvelopeResponse(
        {"data": data, "error": None, "meta": {"request_id": request_id, **meta}},
        status_code=status,
        headers=headers,
    )


def failure(
    code: str,
    message: str,
    details: dict[str, Any],
    request_id: str,
    *,
    status: int,
    headers: dict[str, str] | None = None,
) -> EnvelopeResponse:
    return EnvelopeResponse(
        {
            "data": None,
            "error": {"code": code, "message": message, "details": details},
            "meta": {"request_id": request_id},
        },
        status_code=status,
        headers=headers,
    )
