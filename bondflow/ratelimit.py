"""In-process token buckets keyed by caller (IP, account, user), read from the injected clock."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from bondflow.clock import Clock
from bondflow.errors import RateLimited

MAX_TRACKED_KEYS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`capacity` requests at once, refilled at `capacity / per_seconds` per second, per key."""

    def __init__(self, clock: Clock, *, name: str, capacity: int, per_seconds: float) -> None:
        self.clock = clock
        self.name = name
        self.capacity = float(capacity)
        self.rate = capacity / per_seconds
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Spend one token for `key`, or raise `RateLimited` with the seconds until one is back."""
        now = self.clock.now().timestamp()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_TRACKED_KEYS:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(self.capacity, now)
            bucket.tokens = min(self.capacity, bucket.tokens + max(0.0, now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens < 1.0:
                retry_after = math.ceil((1.0 - bucket.tokens) / self.rate)
                raise RateLimited(
                    "too many requests; slow down",
                    retry_after,
                    {"limit": self.name, "retry_after": retry_after},
                )
            bucket.tokens -= 1.0

    def _forget_full(self, now: float) -> None:
        """Buckets that have refilled completely carry no information: drop them to bound memory."""
        full = [
            k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.capacity
        ]
        for key in full:
            del self._buckets[key]
