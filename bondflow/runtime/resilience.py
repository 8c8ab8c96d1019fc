"""Calling an adapter: transient errors retried with exponential backoff and full jitter within a budget,
behind a circuit breaker per adapter. What still fails raises `RetriesExhausted` (the caller records a break)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class RetriesExhausted(RuntimeError):
    """The budget is spent (or the circuit is open): the last transient error is the cause."""


class CircuitOpen(RuntimeError):
    """The adapter failed too often lately: calls fail fast until `reset_after` seconds pass."""


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        threshold: int = 5,
        reset_after: float = 2.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.reset_after = reset_after
        self._now = now
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half_open" if self._now() - self._opened_at >= self.reset_after else "open"

    def before_call(self) -> None:
        if self.state == "open":
            raise CircuitOpen(f"circuit {self.name} is open")

    def succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def failed(self) -> None:
        with self._lock:
            self._failures += 1
            if self._failures >= self.threshold:
                self._opened_at = self._now()


class Retrying:
    """`call(fn)`: at most `attempts` tries; waits `uniform(0, min(cap, base * 2**n))` between them."""

    def __init__(
        self,
        breaker: CircuitBreaker,
        transient: tuple[type[BaseException], ...],
        *,
        attempts: int = 4,
        base: float = 0.02,
        cap: float = 0.5,
        seed: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.breaker = breaker
        self.transient = transient
        self.attempts = attempts
        self.base = base
        self.cap = cap
        self.sleep = sleep
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not security

    def call(self, fn: Callable[[], T]) -> T:
        last: BaseException | None = None
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self._rng.uniform(0, min(self.cap, self.base * 2**attempt)))
            try:
                self.breaker.before_call()
            except CircuitOpen as exc:
                last = exc
                continue
            try:
                result = fn()
            except self.transient as exc:
                self.breaker.failed()
                last = exc
                continue
            self.breaker.succeeded()
            return result
        raise RetriesExhausted(f"{self.breaker.name}: {last}") from last
