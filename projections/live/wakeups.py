"""Live streams wake when their user's feed grows, not on a timer.

The live-updates projector announces, in the transaction that writes a batch's rows, the users the batch
wrote for (`FEED_CHANNEL`, payload: user ids, one per line, chunked under PostgreSQL's 8,000-byte limit;
delivered at commit, to every API process). Each API process holds one LISTEN connection (a thread started
with the first stream) and sets the asyncio event of every open stream of those users; a stream reads the
read model only when woken. A lost LISTEN connection wakes every stream once it is back, so a notification
missed meanwhile costs a read, never an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from bondflow.adapters.postgres import Database

log = logging.getLogger(__name__)

FEED_CHANNEL = "bondflow_user_feed"
PAYLOAD_BYTES = 7_900  # PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more
RECONNECT_SECONDS = 0.5


def announce(cur: Any, user_ids: Iterable[str]) -> None:
    """Inside the projector's transaction: tell the API processes whose feeds this batch grew."""
    chunk: list[str] = []
    size = 0
    for user_id in sorted(set(user_ids)):
        if chunk and size + len(user_id.encode()) + 1 > PAYLOAD_BYTES:
            cur.execute("SELECT pg_notify(%s, %s)", (FEED_CHANNEL, "\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(user_id)
        size += len(user_id.encode()) + 1
    if chunk:
        cur.execute("SELECT pg_notify(%s, %s)", (FEED_CHANNEL, "\n".join(chunk)))


@dataclass(eq=False, slots=True)
class Subscription:
    """One open stream's wake-up: `wait` returns when its user's feed may have grown (or at `timeout`)."""

    user_id: str
    loop: asyncio.AbstractEventLoop = field(repr=False)
    event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def wait(self, timeout: float) -> bool:
        """True if woken, False at the timeout; the wake-up is consumed either way."""
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.event.clear()

    def wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # its event loop has closed meanwhile
            self.loop.call_soon_threadsafe(self.event.set)


class FeedWakeups:
    """The process's one listener for feed announcements, and the streams it wakes."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._streams: dict[str, set[Subscription]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, user_id: str) -> Subscription:
        """Called on the stream's event loop. The new subscription starts woken: its first read is due."""
        subscription = Subscription(user_id, asyncio.get_running_loop())
        subscription.event.set()
        with self._lock:
            self._streams.setdefault(user_id, set()).add(subscription)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="feed-wakeups", daemon=True)
                self._thread.start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            streams = self._streams.get(subscription.user_id)
            if streams is not None:
                streams.discard(subscription)
                if not streams:
                    del self._streams[subscription.user_id]

    @property
    def streams(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._streams.values())

    def wait_listening(self, timeout: float) -> bool:
        """For tests: True once the listener's LISTEN has taken effect."""
        return self._listening.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)

    def _wake(self, user_ids: Iterable[str] | None) -> None:
        with self._lock:
            if user_ids is None:
                chosen = [s for streams in self._streams.values() for s in streams]
            else:
                chosen = [s for u in user_ids for s in self._streams.get(u, ())]
        for subscription in chosen:
            subscription.wake()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.db.dedicated_connection() as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(FEED_CHANNEL)))
                    self._listening.set()
                    self._wake(None)  # anything announced before LISTEN took effect
                    while not self._stop.is_set():
                        with self._lock:
                            if not self._streams:
                                self._thread = None
                                return  # the next stream starts a listener again
                        for note in conn.notifies(timeout=1.0):
                            self._wake(note.payload.split("\n"))
            except Exception:  # the database went away: listen again, then wake everyone once
                log.warning("live feed listener lost its connection; listening again", exc_info=True)
            finally:
                self._listening.clear()
            self._stop.wait(RECONNECT_SECONDS)
