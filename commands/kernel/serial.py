"""One writer per key at a time inside this process, so its own threads queue instead of colliding.

Optimistic concurrency stays the rule between processes (`commands.kernel.conflicts`), but two API
threads placing orders for the same investor would otherwise load the same escrow version, and one of
them would lose, back off and decide again; under load a hot account can lose eight times in a row and
answer `409 BF-CONFLICT-001` although nothing else was wrong. Queued, each thread decides on the state
the previous one saved. The lock table holds only keys in use, so it never grows with the investors.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class KeyedLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held: dict[str, tuple[threading.Lock, int]] = {}  # key → (its lock, threads using it)

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._held.get(key, (None, 0))
            if lock is None:
                lock = threading.Lock()
            self._held[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                _, users = self._held[key]
                if users == 1:
                    del self._held[key]
                else:
                    self._held[key] = (lock, users - 1)

    def __len__(self) -> int:
        """Keys in use now (held or waited for)."""
        with self._guard:
            return len(self._held)
