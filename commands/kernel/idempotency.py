"""Idempotency-Key handling shared by commands (API.md): fingerprints and the in-progress guard.

The effect itself is made exactly-once by the derived aggregate id (ARCHITECTURE §5): a retry collides
on the same id in the same transaction. This module adds what the contract asks on top: a request
fingerprint to tell a replay from a reused key, and a session advisory lock that answers
`BF-IDEM-003` while the first request with that key is still running.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from bondflow.adapters.postgres import Database
from bondflow.errors import IdempotencyInProgress, IdempotencyKeyMissing, InvalidRequest

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def require_key(key: str | None) -> str:
    if key is None:
        raise IdempotencyKeyMissing("Idempotency-Key header is required for this request")
    return check_key(key)


def check_key(key: str) -> str:
    if not _KEY.match(key):
        raise InvalidRequest(
            "Idempotency-Key must be 1-255 printable characters",
            {"fields": {"Idempotency-Key": "1-255 printable ASCII characters, no spaces"}},
        )
    return key


def fingerprint(route: str, body: dict[str, Any]) -> str:
    """SHA-256 over the route and the normalised request (decimals as canonical strings)."""
    canonical = orjson.dumps({"route": route, "body": body}, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(canonical).hexdigest()


class InFlightGuard:
    """Session advisory locks on (user, key): a second request with the same key while the first runs
    is told to retry instead of waiting or racing."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def hold(self, scope: str, user: str, key: str) -> Iterator[None]:
        name = f"idem:{scope}:{user}:{key}"
        with self.db.pool.connection() as conn:
            conn.autocommit = True
            try:
                got = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (name,)).fetchone()
                if not (got and got[0]):
                    raise IdempotencyInProgress("a request with this Idempotency-Key is still running")
                try:
                    yield
                finally:
                    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (name,))
            finally:
                conn.autocommit = False
