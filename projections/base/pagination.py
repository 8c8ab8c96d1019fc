"""Opaque keyset cursors and whitelisted sorting shared by every list query.

A cursor is `base64url(JSON {"s": sort, "v": [last values]}) "." base64url(HMAC-SHA256 tag)`, signed with a
key derived from `BONDFLOW_MASTER_KEY` (`use_cursor_key`, called by the composition root), so every API
process accepts the cursors of the others and a client cannot forge one: values reach SQL only if this
service issued them. Anything else is `400 BF-REQ-001`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from psycopg import sql

from bondflow.adapters.postgres import Database
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


# until the composition root sets the shared key, a per-process one (then cursors also outlive a restart)
_keys = {"cursor": secrets.token_bytes(32)}


def use_cursor_key(master_key: str) -> None:
    """Sign cursors with a key derived from the master key (the same in every process of a deployment)."""
    _keys["cursor"] = hmac.new(master_key.encode(), b"bondflow/pagination-cursor/v1", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def _tag(payload: bytes) -> bytes:
    return hmac.new(_keys["cursor"], payload, hashlib.sha256).digest()[:16]


def encode_cursor(sort: Sort, values: list[Any]) -> str:
    payload = orjson.dumps({"s": sort.token, "v": [str(v) for v in values]})
    return f"{_b64(payload)}.{_b64(_tag(payload))}"


def decode_cursor(cursor: str, sort: Sort, arity: int = 2) -> list[str]:
    """The `arity` values of a cursor this service issued for `sort`; `400 BF-REQ-001` for anything else."""
    try:
        body, _, tag = cursor.partition(".")
        payload = _unb64(body)
        if not hmac.compare_digest(_unb64(tag), _tag(payload)):
            raise ValueError("cursor signature does not match")
        data = orjson.loads(payload)
        values = data["v"]
        if data["s"] != sort.token or not isinstance(values, list) or len(values) != arity:
            raise ValueError("cursor belongs to another query or sort order")
        if not all(isinstance(v, str) for v in values):
            raise ValueError("cursor values are not strings")
        return list(values)
    except (ValueError, KeyError, TypeError) as exc:  # binascii.Error and orjson errors are ValueErrors
        raise InvalidRequest(
            "cursor: not a cursor this query issued", {"fields": {"cursor": "invalid or from another query"}}
        ) from exc


@dataclass(frozen=True, slots=True)
class Keyset:
    """A list query paged by keyset: `table`'s `columns` in the order of the sort column, then `tie` (unique)
    as the tie-break; `casts` gives the SQL type a cursor's values are read back as (sort column → type)."""

    table: str
    columns: str
    tie: str
    tie_cast: str
    casts: dict[str, str]


def keyset_page(
    db: Database,
    keyset: Keyset,
    *,
    filters: dict[str, Any],
    sort: Sort,
    limit: int,
    cursor: str | None,
) -> tuple[list[tuple[Any, ...]], list[Any] | None]:
    """One page of rows (equality `filters` whose value is not None), and the sort value and tie of the
    last row when more follow (the caller turns them into the next cursor with `encode_cursor`)."""
    where: list[sql.Composable] = [
        sql.SQL("{} = %s").format(sql.Identifier(column)) for column, v in filters.items() if v is not None
    ]
    params: list[Any] = [v for v in filters.values() if v is not None]
    key, tie = sql.Identifier(sort.column), sql.Identifier(keyset.tie)
    if cursor is not None:
        op = sql.SQL("<" if sort.descending else ">")
        where.append(
            sql.SQL("({}, {}) {} (%s::{}, %s::{})").format(
                key, tie, op, sql.SQL(keyset.casts[sort.column]), sql.SQL(keyset.tie_cast)
            )
        )
        params.extend(decode_cursor(cursor, sort))
    direction = sql.SQL("DESC" if sort.descending else "ASC")
    query = sql.SQL("SELECT {cols} FROM {table} {where} ORDER BY {key} {dir}, {tie} {dir} LIMIT %s").format(
        cols=sql.SQL(keyset.columns),
        table=sql.Identifier(keyset.table),
        where=sql.SQL("WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
        key=key,
        tie=tie,
        dir=direction,
    )
    params.append(limit + 1)
    with db.cursor() as cur:
        rows = [tuple(r) for r in cur.execute(query, params).fetchall()]
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], [
        rows[limit - 1][_index(keyset, sort.column)],
        rows[limit - 1][_index(keyset, keyset.tie)],
    ]


def _index(keyset: Keyset, column: str) -> int:
    return [c.strip() for c in keyset.columns.split(",")].index(column)


def cursor_value(value: Any) -> str:
    """How a sort value is written into a cursor (times in ISO-8601, which the casts read back)."""
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
