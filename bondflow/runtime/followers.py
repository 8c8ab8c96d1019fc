"""Followers of the log: one runner for every projector, saga and effect worker.

A follower is elected by a session advisory lock so that only one copy (of it, or of one segment of it) is
active at a time (ARCHITECTURE §3). Its leader reads its recorded position once, when it gains leadership,
and keeps it in memory; batches come from the process's one `LogReader`, which reads each stretch of the
log once for every follower in the process. A Postgres projector commits its rows and its position
together; if `bondflow replay --switch` moved the position meanwhile, recording fails (`PositionMoved`)
and the leader re-reads it. Other followers make their effects idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from bondflow.adapters.postgres import Database
from bondflow.runtime import positions
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.log_reader import WHOLE, LogReader, Positioned, Segment, shared_reader

__all__ = ["Follower", "FollowerRunner", "Positioned", "Segment", "wait_for_position"]

log = logging.getLogger(__name__)

# A stretch of the log with none of a follower's events is recorded at most this often (a min_position
# query does not wait for it: `PositionWaits` sees that nothing of the read model's lies in between). It
# bounds how stale a recorded position is (lag on another process's /metrics, where a restart resumes);
# at 0.25 s, two dozen idle followers made most of the statements PostgreSQL ran under load.
EMPTY_RECORD_SECONDS = 1.0


class Follower(Protocol):
    name: str
    topics: frozenset[str]

    def setup(self) -> None: ...

    def position(self) -> int: ...

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        """Handle `events` (only those whose topic is in `topics`) and record `upto` as the new position."""


class FollowerRunner:
    """Runs one follower in a thread until stopped; restarts from its recorded position."""

    def __init__(
        self,
        follower: Follower,
        store: EventStore,
        db: Database,
        *,
        batch_size: int = 500,
        idle_wait: float = 1.0,
        reader: LogReader | None = None,
        segment: Segment = WHOLE,
    ) -> None:
        self.follower = follower
        self.store = store
        self.db = db
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.reader = reader or shared_reader(store, db, batch_size)
        self.segment = segment
        self.current: int | None = None  # the leader's position, in memory
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.is_leader = threading.Event()
        self.last_error: str | None = None
        self.processed = 0
        # a follower whose every write is costly whatever its size (a ClickHouse insert is a new part) may
        # ask to wait this long after a batch, so that the next one carries more events
        self.linger: float = float(getattr(follower, "linger_seconds", 0.0))

    @property
    def name(self) -> str:
        return self.follower.name

    @property
    def lock_key(self) -> str:
        return f"follower:{self.name}"

    def position(self) -> int:
        """Where this follower is: the leader's position in memory, else the recorded one."""
        current = self.current
        return self.follower.position() if current is None else current

    def start(self) -> None:
        self.follower.setup()
        self._thread = threading.Thread(target=self._run, name=f"follower-{self.name}", daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        self._stop.set()
        self.reader.wake()

    def stop(self, timeout: float = 10.0) -> None:
        self.signal_stop()
        if self._thread is not None:
            self._thread.join(timeout)
        close = getattr(self.follower, "close", None)
        if callable(close):
            close()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._lead_and_follow()
            except (
                Exception
            ) as exc:  # a follower never dies: it logs, backs off and resumes from its position
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("follower %s failed; retrying", self.name)
                self._stop.wait(1.0)
            finally:
                self.is_leader.clear()
                self.current = None

    def _lead_and_follow(self) -> None:
        with self.db.dedicated_connection() as lock_conn:
            while not self._stop.is_set():
                got = lock_conn.execute(
                    "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (self.lock_key,)
                ).fetchone()
                if got and got[0]:
                    break
                self._stop.wait(1.0)  # another copy leads: stand by
            if self._stop.is_set():
                return
            self.is_leader.set()
            self._follow(lock_conn)

    def _follow(self, listen_conn: Any) -> None:
        """Lead: read the position once, then take batches from the process's reader until stopped.

        `listen_conn` is the leader's own connection (subclasses that poll instead of following use it)."""
        key = id(self)
        self.reader.subscribe(key, self.follower.topics)
        try:
            self._follow_batches()
        finally:
            self.reader.unsubscribe(key)

    def _follow_batches(self) -> None:
        recorded = self.follower.position()
        self.current = recorded
        recorded_at = time.monotonic()
        batch: list[Positioned]
        while not self._stop.is_set():
            position = self.current
            pending = position > recorded
            wait = EMPTY_RECORD_SECONDS if pending else self.idle_wait
            got = self.reader.read(
                position, self.follower.topics, self.batch_size, wait, self.segment, self._stop
            )
            if got is None:
                if not pending:
                    continue
                batch, upto = [], position  # quiet: record where the empty batches took us
            else:
                batch, upto = got
                if not batch and time.monotonic() - recorded_at < EMPTY_RECORD_SECONDS:
                    self.current = upto  # nothing for us: move on, record it a little later
                    continue
            try:
                # a batch read from `position` records only if the recorded position is still `recorded`:
                # `bondflow replay --switch` may have moved a rebuilt table in with its own position
                with positions.following_from(self.name, recorded):
                    self.follower.process(batch, upto)
            except positions.PositionMoved:
                log.info("follower %s: its position was moved (a replay switch); reading it again", self.name)
                recorded = self.follower.position()
                self.current = recorded
                continue
            recorded = self.current = upto
            recorded_at = time.monotonic()
            self.processed += len(batch)
            self.last_error = None
            if batch and self.linger:
                self._stop.wait(self.linger)  # let the next batch grow: fewer, larger writes


def wait_for_position(read_position: Any, target: int, timeout: float, poll: float = 0.01) -> bool:
    """Poll `read_position()` until it reaches `target` or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if read_position() >= target:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        poll = min(poll * 1.5, 0.1)
