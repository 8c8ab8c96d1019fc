"""Effects in flight, not in line (ARCHITECTURE §3): an effect follower hands each event to a bounded pool,
where work for different aggregates runs concurrently and work for one aggregate runs in log order; the
follower loop itself never waits on a provider.

The follower's recorded position is the watermark below which every event is done: a crash redelivers
only what was in flight or not yet started (handlers are idempotent: derived ids, aggregate guards), and
never skips an event. A failing event is retried in its lane with backoff; the watermark waits for it.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 10.0
# The watermark is recorded at most this often (a transaction each): recording it after every event was
# the largest share of position records under load (the saga: 10 per order). A crash redelivers at most
# this much more; the handlers are idempotent either way. Closing records the last watermark at once.
RECORD_SECONDS = 0.1


class InFlight:
    """A bounded set of events being handled, one lane per aggregate, and the done-watermark."""

    def __init__(
        self,
        name: str,
        handle: Callable[[Any], None],
        record: Callable[[int], None],
        *,
        limit: int,
    ) -> None:
        self.name = name
        self.handle = handle
        self.record = record
        self.limit = limit
        self._pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix=f"effects-{name}")
        self._lock = threading.Condition()
        self._lanes: dict[Hashable, deque[tuple[int, Any]]] = {}
        self._pending: list[int] = []  # positions submitted and not yet done, sorted
        self._scanned = 0  # every event up to here has been submitted
        self._recorded = 0
        self._recorded_at = float("-inf")  # monotonic time of the last record
        self._flusher: threading.Thread | None = None  # records a watermark held back by RECORD_SECONDS
        self._closing = False
        self.last_error: str | None = None

    def start_at(self, position: int) -> None:
        with self._lock:
            self._scanned = self._recorded = max(self._scanned, position)

    def submit(self, key: Hashable, position: int, event: Any) -> None:
        """Queue `event` behind its aggregate's earlier work; waits while `limit` events are in flight."""
        with self._lock:
            while len(self._pending) >= self.limit and not self._closing:
                self._lock.wait(0.5)
            bisect.insort(self._pending, position)
            lane = self._lanes.get(key)
            if lane is not None:
                lane.append((position, event))
                return
            self._lanes[key] = deque([(position, event)])
        self._pool.submit(self._drain, key)

    def scanned(self, upto: int) -> None:
        """Everything up to `upto` has been submitted; record the watermark if it moved."""
        with self._lock:
            self._scanned = max(self._scanned, upto)
        self._advance()

    def _drain(self, key: Hashable) -> None:
        while True:
            with self._lock:
                lane = self._lanes[key]
                if not lane:
                    del self._lanes[key]
                    return
                position, event = lane[0]
            self._handle_until_done(event)
            with self._lock:
                lane.popleft()
                self._pending.remove(position)
                self._lock.notify_all()
            self._advance()

    def _handle_until_done(self, event: Any) -> None:
        wait = RETRY_FIRST_SECONDS
        while True:
            try:
                self.handle(event)
                return
            except Exception as exc:  # retried in its lane; the watermark waits for it
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("effect follower %s: an event failed; retrying it", self.name)
                with self._lock:
                    if self._closing:
                        raise
                    self._lock.wait(wait)
                wait = min(wait * 2, RETRY_MAX_SECONDS)

    def watermark(self) -> int:
        with self._lock:
            return self._scanned if not self._pending else min(self._scanned, self._pending[0] - 1)

    def _advance(self, *, now: bool = False) -> None:
        with self._lock:
            mark = self._scanned if not self._pending else min(self._scanned, self._pending[0] - 1)
            if mark <= self._recorded:
                return
            if not now and time.monotonic() - self._recorded_at < RECORD_SECONDS:
                self._hold_back()
                return
            self._recorded, self._recorded_at = mark, time.monotonic()
        self.record(mark)

    def _hold_back(self) -> None:
        """(Under the lock.) Have the flusher record the watermark once RECORD_SECONDS have passed."""
        if self._flusher is None or not self._flusher.is_alive():
            self._flusher = threading.Thread(target=self._flush, name=f"watermark-{self.name}", daemon=True)
            self._flusher.start()
        self._lock.notify_all()

    def _flush(self) -> None:
        while True:
            with self._lock:
                if self._closing:
                    return
                wait = RECORD_SECONDS - (time.monotonic() - self._recorded_at)
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                mark = self._scanned if not self._pending else min(self._scanned, self._pending[0] - 1)
                if mark <= self._recorded:
                    self._lock.wait(1.0)  # nothing held back: sleep until the next hold or close
                    continue
            try:
                self._advance()
            except Exception:  # the next completion or close records it
                log.warning("effect follower %s: recording the watermark failed", self.name, exc_info=True)

    def idle(self) -> bool:
        with self._lock:
            return not self._pending

    def close(self, timeout: float = 10.0) -> None:
        """Let the work in flight finish (up to `timeout`), then stop the pool."""
        with self._lock:
            self._lock.wait_for(lambda: not self._pending, timeout)
            self._closing = True  # what is still failing gives up; a new leader redelivers it
            self._lock.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._advance(now=True)  # the watermark a RECORD_SECONDS hold kept back
