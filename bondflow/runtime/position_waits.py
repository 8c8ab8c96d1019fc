"""Read-your-writes without a thread per request: queries awaiting `min_position` park an asyncio future here.

One watcher thread per process holds one LISTEN connection (the log's channel, where every append is
announced, and `POSITIONS_CHANNEL`, where Postgres projectors announce each recorded position). While
requests wait, it reads the position of each awaited read model once per wake-up (a notification, or a
short poll for read models that do not announce, such as ClickHouse checkpoints) and resolves every future
whose target has been reached. A read model also counts as there when none of its events lies between its
position and the target (`next_relevant`): it would look the same at the target. So followers need not
record every stretch of events that is not theirs at once (`EMPTY_RECORD_SECONDS`), and a query on a read
model that nothing recent touched does not wait for such a record. The number of parked requests is bounded: past the bound a query is refused
at once (`503 BF-QRY-001` with `Retry-After`) instead of queueing without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from bondflow.adapters.postgres import Database
from bondflow.runtime.metrics import Metrics
from bondflow.runtime.positions import POSITIONS_CHANNEL

log = logging.getLogger(__name__)


class WaitersExhausted(RuntimeError):
    """As many requests as allowed are already waiting for read models."""


@dataclass(eq=False, slots=True)
class _Waiter:
    name: str
    target: int
    future: asyncio.Future[None]
    loop: asyncio.AbstractEventLoop = field(repr=False)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class PositionWaits:
    def __init__(
        self,
        db: Database,
        log_channel: str,
        read_position: Callable[[str], int],
        metrics: Metrics,
        *,
        max_waiters: int,
        poll_seconds: float = 0.05,
        next_relevant: Callable[[str, int], int] | None = None,
    ) -> None:
        """`next_relevant(name, position)`: the position of the first event after `position` that read
        model `name` applies (past the head when there is none); a target below it counts as reached."""
        self.db = db
        self.next_relevant = next_relevant
        self.channels = (log_channel, POSITIONS_CHANNEL)
        self.read_position = read_position
        self.metrics = metrics
        self.max_waiters = max_waiters
        self.poll_seconds = poll_seconds
        self._waiters: list[_Waiter] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def wait(self, name: str, target: int, timeout: float) -> bool:
        """Park until read model `name` has reached `target` (True) or `timeout` seconds pass (False)."""
        loop = asyncio.get_running_loop()
        waiter = _Waiter(name, target, loop.create_future(), loop)
        with self._lock:
            if len(self._waiters) >= self.max_waiters:
                raise WaitersExhausted(f"{len(self._waiters)} requests are already waiting")
            self._waiters.append(waiter)
            self._start_watcher()
        self.metrics.query_waiting.inc()
        self._wake.set()
        try:
            await asyncio.wait_for(waiter.future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.metrics.query_waiting.dec()
            with self._lock:
                self._waiters.remove(waiter)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _start_watcher(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="position-waits", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.db.dedicated_connection() as conn:
                    for channel in self.channels:
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._watch(conn)
            except Exception:  # the watcher never dies: waiters time out meanwhile, then it listens again
                log.exception("position watcher failed; listening again")
                self._stop.wait(0.5)

    def _watch(self, conn: psycopg.Connection[Any]) -> None:
        while not self._stop.is_set():
            with self._lock:
                parked = list(self._waiters)
            if not parked:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            self._release_reached(parked)
            for _ in conn.notifies(timeout=self.poll_seconds, stop_after=1):
                pass

    def _release_reached(self, parked: list[_Waiter]) -> None:
        for name in {w.name for w in parked}:
            try:
                position = self.read_position(name)
            except Exception:  # one unreadable read model must not hold up the others
                log.warning("could not read the position of %s", name, exc_info=True)
                continue
            ahead = [w for w in parked if w.name == name and w.target > position]
            if ahead and self.next_relevant is not None:
                try:
                    unchanged_below = self.next_relevant(name, position)
                except Exception:
                    log.warning("could not read the log after %s for %s", position, name, exc_info=True)
                else:
                    position = max(position, unchanged_below - 1)
            for waiter in parked:
                if waiter.name == name and waiter.target <= position:
                    with contextlib.suppress(RuntimeError):  # its event loop has closed meanwhile
                        waiter.loop.call_soon_threadsafe(_resolve, waiter.future)
