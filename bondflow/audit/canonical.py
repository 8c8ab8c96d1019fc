"""Canonical bytes of a published event: defined once, here, and documented for regulators.

A published event is a JSON object with keys sorted by code point and no whitespace (RFC 8785 style),
where every value is a string, an integer, a boolean, null, an array or an object:
decimals are strings in plain notation (`"99.7500"`, never an exponent), UUIDs are lower-case hyphenated
strings, timestamps are ISO-8601 UTC with microseconds and a `Z` (`2026-11-23T10:00:00.000000Z`), dates
are `YYYY-MM-DD`, enums are their values. Floats never appear: they are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import orjson


def plain(value: Any) -> Any:
    """Turn a domain value into its canonical JSON-ready form."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite decimal {value!r} cannot be canonicalised")
        return format(value, "f")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetimes cannot be canonicalised")
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [plain(v) for v in value]
        return sorted(items, key=orjson.dumps) if isinstance(value, set | frozenset) else items
    if isinstance(value, float):
        raise TypeError("floats are not allowed in published events")
    raise TypeError(f"cannot canonicalise {type(value).__name__}")


def _decimal(value: Decimal) -> str:
    text = str(value)  # plain already unless it has an exponent (or is not a number): 8x cheaper than format
    if "E" not in text and "e" not in text and text[-1].isdigit():
        return text
    if not value.is_finite():
        raise ValueError(f"non-finite decimal {value!r} cannot be canonicalised")
    return format(value, "f")


def _datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetimes cannot be canonicalised")
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    if utc.year < 1000:  # isoformat pads the year, strftime may not: keep the one definition
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _mapping(value: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():  # strings, ints and None, most of what an event holds, need no call
        kind = type(v)
        out[k if type(k) is str else str(k)] = v if kind is str or kind is int or v is None else _fast(v)
    return out


def _list(value: list[Any] | tuple[Any, ...]) -> list[Any]:
    return [_fast(v) for v in value]


def _same(value: Any) -> Any:
    return value


# the exact types events carry, converted without walking the isinstance chain (same results as `plain`)
_BY_TYPE: dict[type, Any] = {
    str: _same,
    int: _same,
    bool: _same,
    type(None): _same,
    Decimal: _decimal,
    UUID: str,
    datetime: _datetime,
    date: date.isoformat,
    dict: _mapping,
    list: _list,
    tuple: _list,
}


def _fast(value: Any) -> Any:
    convert = _BY_TYPE.get(type(value))
    return plain(value) if convert is None else convert(value)


def canonical_form(record: Mapping[str, Any]) -> Any:
    """The record as the JSON values its canonical bytes are written from (ids and times as their text)."""
    return _fast(record)


def canonical_bytes(record: Mapping[str, Any]) -> bytes:
    return orjson.dumps(_fast(record), option=orjson.OPT_SORT_KEYS)


def bytes_of(form: Any) -> bytes:
    """The canonical bytes of a value already in its canonical form (`canonical_form`)."""
    return orjson.dumps(form, option=orjson.OPT_SORT_KEYS)
