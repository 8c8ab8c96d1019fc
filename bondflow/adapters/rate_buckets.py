"""Token buckets in PostgreSQL, shared by every API process on the database.

One statement per request takes a token from each of the request's buckets: an `INSERT … ON CONFLICT DO
UPDATE … RETURNING` that computes the refill in SQL from the row it updates. Under READ COMMITTED the
`DO UPDATE` is evaluated against the newest version of the row after locking it, so concurrent takes from
several processes never lose an update. Only the caller's own rows are locked, for the length of that one
statement (no table or advisory lock, no transaction held across the request). The statement runs in
autocommit on a small pool of its own with `synchronous_commit = off`: it never waits for a WAL flush, and
a PostgreSQL crash can forget at most the last moments of bucket state (a restart of BondFlow forgets none).

Keys (user ids, IP addresses, account hashes) are stored only as keyed BLAKE2b digests.

When a request is refused by one bucket, the tokens the other buckets granted it are given back (a second
statement, only on that path), so a client retrying a refused call does not drain its longer windows.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from bondflow.runtime.clock import Clock

DDL = """
CREATE TABLE IF NOT EXISTS rate_limit_buckets (
    key text PRIMARY KEY,
    tokens double precision NOT NULL,
    capacity double precision NOT NULL,
    refill_per_second double precision NOT NULL,
    updated_at timestamptz NOT NULL,
    granted boolean NOT NULL
) WITH (fillfactor = 70);
"""

# The refill of the locked row, as of the caller's clock (never backwards): min(capacity, tokens + elapsed × rate).
_REFILLED = (
    "LEAST(EXCLUDED.capacity, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM EXCLUDED.updated_at - b.updated_at))"
    "::double precision * EXCLUDED.refill_per_second)"
)
TAKE = f"""
INSERT INTO rate_limit_buckets AS b (key, tokens, capacity, refill_per_second, updated_at, granted)
SELECT w.key, w.capacity - 1, w.capacity, w.rate, %(now)s, true
FROM unnest(%(keys)s::text[], %(capacities)s::double precision[], %(rates)s::double precision[])
     AS w(key, capacity, rate)
ORDER BY w.key
ON CONFLICT (key) DO UPDATE SET
    tokens = CASE WHEN {_REFILLED} >= 1 THEN {_REFILLED} - 1 ELSE {_REFILLED} END,
    granted = {_REFILLED} >= 1,
    capacity = EXCLUDED.capacity,
    refill_per_second = EXCLUDED.refill_per_second,
    updated_at = GREATEST(b.updated_at, EXCLUDED.updated_at)
RETURNING key, granted, tokens
"""
GIVE_BACK = (
    "UPDATE rate_limit_buckets SET tokens = LEAST(capacity, tokens + 1) WHERE key = ANY(%(keys)s::text[])"
)
# Rows that have refilled completely carry no information: dropped now and then to bound the table.
FORGET_FULL = (
    "DELETE FROM rate_limit_buckets WHERE tokens + EXTRACT(EPOCH FROM %(now)s - updated_at)::double precision"
    " * refill_per_second >= capacity"
)
FORGET_EVERY = 5000  # takes, on average


@dataclass(frozen=True, slots=True)
class Bucket:
    """`capacity` requests at once, refilled evenly over `window_seconds`, for one `key`."""

    policy: str  # what the client sees in RateLimit-Policy, e.g. "orders-per-minute"
    key: str
    capacity: int
    window_seconds: int

    @property
    def rate(self) -> float:
        return self.capacity / self.window_seconds


@dataclass(frozen=True, slots=True)
class Verdict:
    bucket: Bucket
    granted: bool
    tokens: float  # left after this request

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.tokens))

    @property
    def retry_after(self) -> int:
        """Seconds until one token is back (0 when one is there now)."""
        return 0 if self.tokens >= 1 else max(1, math.ceil((1 - self.tokens) / self.bucket.rate))

    @property
    def reset(self) -> int:
        """Seconds until the bucket is full again."""
        return max(0, math.ceil((self.bucket.capacity - self.tokens) / self.bucket.rate))


class TokenBuckets:
    def __init__(self, url: str, clock: Clock, secret: bytes, *, pool_size: int = 4) -> None:
        self.clock = clock
        self._secret = hashlib.blake2b(secret).digest()[:32]
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            name="bondflow-rate-limits",
            timeout=10,
            kwargs={"autocommit": True, "options": "-c synchronous_commit=off"},
        )
        self._opened = False
        self._lock = threading.Lock()

    def setup(self) -> None:
        self._open()
        with self.pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtextextended('ddl:rate_limit_buckets', 0))")
            try:
                conn.execute(DDL)
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended('ddl:rate_limit_buckets', 0))")

    def _open(self) -> None:
        with self._lock:
            if not self._opened:
                self.pool.open(wait=True, timeout=30)
                self._opened = True

    def take(self, buckets: Sequence[Bucket]) -> list[Verdict]:
        """One token from each bucket (one round trip); a refused request keeps none of its tokens."""
        if not buckets:
            return []
        self._open()
        now = self.clock.now()
        by_key = {self._digest(b.key): b for b in buckets}
        params = {
            "now": now,
            "keys": list(by_key),
            "capacities": [float(b.capacity) for b in by_key.values()],
            "rates": [b.rate for b in by_key.values()],
        }
        with self.pool.connection() as conn:
            rows = conn.execute(TAKE, params).fetchall()
            verdicts = {str(k): Verdict(by_key[str(k)], bool(g), float(t)) for k, g, t in rows}
            if not all(v.granted for v in verdicts.values()):
                conn.execute(GIVE_BACK, {"keys": [k for k, v in verdicts.items() if v.granted]})
                verdicts = {
                    k: Verdict(v.bucket, v.granted, v.tokens + v.granted) for k, v in verdicts.items()
                }
            if random.random() < 1 / FORGET_EVERY:  # noqa: S311 - housekeeping, not security
                conn.execute(FORGET_FULL, {"now": now})
        return [verdicts[k] for k in by_key]  # in the order asked

    def _digest(self, key: str) -> str:
        return hashlib.blake2b(key.encode(), key=self._secret, digest_size=16).hexdigest()

    def close(self) -> None:
        if self._opened:
            self.pool.close()
