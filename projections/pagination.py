"""Opaque keyset cursors and whitelisted sorting shared by every list query."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from bondflow.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Sort:
    column: str
    descending: bool

    @classmethod
    def parse(cls, raw: str | None, allowed: dict[str, str], default: str) -> Sort:
        text = raw or default
        descending = text.startswith("-")
        key = text.lstrip("-")
        if key not in allowed:
            raise InvalidRequest(
                f"sort: must be one of {sorted(allowed)} (prefix '-' for descending)",
                {"fields": {"sort": f"allowed: {', '.join(sorted(allowed))}"}},
            )
        return cls(allowed[key], descending)

    @property
    def token(self) -> str:
        return f"{'-' if self.descending else ''}{self.column}"


def encode_cursor(sort: Sort, values: list[Any]) -> str:
    payload = orjson.dumps({"s": sort.token, "v": [str(v) for v in values]})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort) -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
        values = data["v"]
        if data["s"] != sort.token or not isinstance(values, list):
            raise ValueError("cursor belongs to another sort order")
        return [str(v) for v in values]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRequest(
            "cursor: not a cursor this query issued", {"fields": {"cursor": "invalid or from another query"}}
        ) from exc
