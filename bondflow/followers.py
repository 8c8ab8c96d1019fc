"""Followers of the log: one runner for every projector, saga and effect worker.

A follower reads the log in batches from its own position, is woken by LISTEN/NOTIFY, and is elected by a
session advisory lock so that only one copy is active at a time (ARCHITECTURE §3). A Postgres projector
commits its rows and its position together; other followers make their effects idempotent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.domain import DomainEventProtocol
from psycopg import sql

from bondflow.adapters.postgres import Database
from bondflow.eventstore import EventStore
from projections import positions

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Positioned:
    event: DomainEventProtocol[Any]
    position: int


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
    ) -> None:
        self.follower = follower
        self.store = store
        self.db = db
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.is_leader = threading.Event()
        self.last_error: str | None = None
        self.processed = 0

    @property
    def name(self) -> str:
        return self.follower.name

    def start(self) -> None:
        self.follower.setup()
        self._thread = threading.Thread(target=self._run, name=f"follower-{self.name}", daemon=True)
        self._thread.start()

    def signal_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
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

    def _lead_and_follow(self) -> None:
        with self.db.dedicated_connection() as lock_conn:
            while not self._stop.is_set():
                got = lock_conn.execute(
                    "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (f"follower:{self.name}",)
                ).fetchone()
                if got and got[0]:
                    break
                self._stop.wait(1.0)  # another copy leads: stand by
            if self._stop.is_set():
                return
            self.is_leader.set()
            with self.db.dedicated_connection() as listen_conn:
                listen_conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.store.listen_channel)))
                self._follow(listen_conn)

    def _follow(self, listen_conn: Any) -> None:
        mapper = self.store.mapper
        topics = self.follower.topics
        while not self._stop.is_set():
            # read again each round: `bondflow replay --switch` may have moved a rebuilt table in with its
            # own position; a batch begun from the old one fails to record (PositionMoved) and starts over
            position = self.follower.position()
            notifications = self.store.recorder.select_notifications(
                start=position + 1, limit=self.batch_size
            )
            if not notifications:
                for _ in listen_conn.notifies(timeout=self.idle_wait, stop_after=1):
                    pass
                continue
            batch = [Positioned(mapper.to_domain_event(n), n.id) for n in notifications if n.topic in topics]
            upto = notifications[-1].id
            with positions.following_from(self.follower.name, position):
                self.follower.process(batch, upto)
            self.processed += len(batch)
            self.last_error = None


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
