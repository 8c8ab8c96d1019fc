"""The deadline timer: reads the injected clock, records `DeadlineExpired` for every settlement whose
current step is past its deadline, and runs the polls the effect workers scheduled (finality of a hold
execution, a payout's status) when they fall due. Tests move a ManualClock and call `tick`, they never
sleep. It runs under `TimerRunner`, which keeps the follower runner's leader election but ticks on an
interval."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol
from uuid import UUID

from bondflow.adapters.postgres import Database
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import FollowerRunner, Positioned
from bondflow.saga import polls
from bondflow.saga.ports import DeadlineIndex, SettlementHandler

log = logging.getLogger(__name__)

# Under its runner the timer looks for passed deadlines this often (they are tens of seconds long), and
# for polls when the next one falls due, or when a worker of this process schedules one, or at least this
# often (one scheduled by another process). It looked for both every 20 ms: 100 statements a second, idle.
IDLE_SECONDS = 0.25


class Poller(Protocol):
    poll_after: Any

    def poll(self, sid: UUID, step: str, key: str) -> bool: ...


class DeadlineTimer:
    name = "settlement_timer"
    topics: frozenset[str] = frozenset()

    def __init__(
        self,
        db: Database,
        store: EventStore,
        clock: Clock,
        commands: SettlementHandler,
        deadlines: DeadlineIndex,
        pollers: Mapping[str, Poller] | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.commands = commands
        self.deadlines = deadlines
        self.pollers: Mapping[str, Poller] = pollers or {}
        self.in_flight = 1  # polls asked at once; above 1 a tick hands them to a pool and returns
        self._pool: ThreadPoolExecutor | None = None
        self._polling: set[tuple[UUID, str, str]] = set()
        self._lock = threading.Lock()
        self.wakeup = threading.Event()  # set when a poll is scheduled in this process
        polls.wake_on_schedule(self.wakeup)
        self._deadlines_at = float("-inf")  # when `run_once` last looked for passed deadlines (monotonic)

    def setup(self) -> None:
        self.deadlines.setup()
        polls.ensure_table(self.db)

    def position(self) -> int:
        return self.store.head_position()  # the timer has no position in the log: it never lags

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        """Nothing to follow (topics is empty)."""

    def tick(self, conn: Any = None) -> int:
        """Record every deadline that has passed and run the polls due (on `conn` if given); returns how
        many deadlines were recorded."""
        if conn is None:
            with self.db.transaction() as cur:
                return self._tick(cur)
        return self._tick(conn)

    def run_once(self, conn: Any, busy_interval: float) -> float:
        """One look under the runner: deadlines if `IDLE_SECONDS` have passed since the last, the polls
        due; returns how long to wait before the next look (until the next poll is due, within bounds)."""
        started = time.monotonic()
        deadlines = started - self._deadlines_at >= IDLE_SECONDS
        if deadlines:
            self._deadlines_at = started
        self._tick(conn, deadlines=deadlines)
        idle = max(busy_interval, IDLE_SECONDS - (time.monotonic() - self._deadlines_at))
        next_poll = polls.next_due(conn)
        if next_poll is None:
            return idle
        until = (next_poll - self.clock.now()).total_seconds()
        return min(max(until, busy_interval), idle)

    def _tick(self, conn: Any, *, deadlines: bool = True) -> int:
        now = self.clock.now()
        due = self.deadlines.due(conn, now) if deadlines else []
        expired = sum(self.commands.expire(sid, now) for sid in due)
        for sid, step, key, tries in polls.due(conn, now):
            poller = self.pollers.get(step)
            if poller is None:  # no worker polls this step (any more)
                polls.done(conn, sid, step, key)
            elif self.in_flight <= 1:
                self._poll(poller, sid, step, key, tries, conn)
            else:
                self._submit(poller, sid, step, key, tries)
        return expired

    def _poll(self, poller: Poller, sid: UUID, step: str, key: str, tries: int, conn: Any = None) -> None:
        """Ask, then record the answer (done, or when to ask again) in a transaction of its own: no
        connection is held while the provider is asked."""
        try:
            known = poller.poll(sid, step, key)
        except Exception:  # one bad poll never stops the timer; it is asked again later
            log.exception("settlement poll failed", extra={"settlement_id": str(sid), "step": step})
            known = False
        with contextlib.ExitStack() as scope:
            cur = conn if conn is not None else scope.enter_context(self.db.transaction())
            if known:
                polls.done(cur, sid, step, key)
            else:
                polls.again(cur, sid, step, key, self.clock.now(), poller.poll_after, tries)

    def _submit(self, poller: Poller, sid: UUID, step: str, key: str, tries: int) -> None:
        """Polls in flight: up to `in_flight` at once on a pool, each poll once at a time (a poll still
        running is not asked again by the next tick)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.in_flight, thread_name_prefix="settlement-polls")
            if (sid, step, key) in self._polling or len(self._polling) >= 4 * self.in_flight:
                return
            self._polling.add((sid, step, key))

        def run() -> None:
            try:
                self._poll(poller, sid, step, key, tries)
            finally:
                with self._lock:
                    self._polling.discard((sid, step, key))

        self._pool.submit(run)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class TimerRunner(FollowerRunner):
    """A `FollowerRunner` whose leader ticks the timer every `interval` seconds instead of reading the log."""

    interval = 0.02

    def _follow(self, listen_conn: Any) -> None:
        timer: Any = self.follower
        listen_conn.execute("UNLISTEN *")  # the timer reads no notifications; it only polls the clock
        run_once = getattr(timer, "run_once", None)
        wakeup: threading.Event = getattr(timer, "wakeup", None) or self._stop
        while not self._stop.is_set():
            if wakeup is not self._stop:
                wakeup.clear()  # before the look: a poll scheduled during it cuts the wait after it short
            # its own connection: an idle tick never draws on the shared pool
            wait = self.interval
            if run_once is not None:
                wait = run_once(listen_conn, self.interval)
            else:
                timer.tick(listen_conn)
            self.last_error = None
            wakeup.wait(wait)

    def signal_stop(self) -> None:
        super().signal_stop()
        wakeup = getattr(self.follower, "wakeup", None)
        if wakeup is not None:
            wakeup.set()
