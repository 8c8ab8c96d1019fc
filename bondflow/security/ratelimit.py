"""Token buckets: how their verdicts reach the client (429 and the RateLimit fields), and an in-process
bucket for a single process (the API's own limits are in PostgreSQL: `bondflow.adapters.rate_buckets`)."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from bondflow.adapters.rate_buckets import Verdict
from bondflow.errors import RateLimited
from bondflow.runtime.clock import Clock

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


def rate_limit_headers(verdicts: Sequence[Verdict]) -> dict[str, str]:
    """The IETF `RateLimit-Policy` and `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers): each policy's
    quota `q` over window `w` seconds; what is left `r` and the seconds `t` until the bucket is full again."""
    if not verdicts:
        return {}
    policies = ", ".join(
        f'"{v.bucket.policy}";q={v.bucket.capacity};w={v.bucket.window_seconds}' for v in verdicts
    )
    state = ", ".join(f'"{v.bucket.policy}";r={v.remaining};t={v.reset}' for v in verdicts)
    return {"RateLimit-Policy": policies, "RateLimit": state}


def refuse_unless_granted(verdicts: Sequence[Verdict]) -> None:
    """Raise `RateLimited` (429, Retry-After and the RateLimit fields) if any bucket refused."""
    refused = [v for v in verdicts if not v.granted]
    if refused:
        worst = max(refused, key=lambda v: v.retry_after)
        raise RateLimited(
            "too many requests; slow down",
            worst.retry_after,
            {"limit": worst.bucket.policy, "retry_after": worst.retry_after},
            headers=rate_limit_headers(verdicts),
        )
