"""The deadline timer: reads the injected clock and records `DeadlineExpired` for every settlement whose
current step is past its deadline (tests move a ManualClock and call `tick`, they never sleep). It runs
under `TimerRunner`, which keeps the follower runner's leader election but ticks on an interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.clock import Clock
from bondflow.eventstore import EventStore
from bondflow.followers import FollowerRunner, Positioned
from bondflow.settlement.commands import SettlementCommands
from projections import settlements_view


class DeadlineTimer:
    name = "settlement_timer"
    topics: frozenset[str] = frozenset()

    def __init__(self, db: Database, store: EventStore, clock: Clock, commands: SettlementCommands) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.commands = commands

    def setup(self) -> None:
        settlements_view.ensure_table(self.db)

    def position(self) -> int:
        return self.store.head_position()  # the timer has no position in the log: it never lags

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        """Nothing to follow (topics is empty)."""

    def tick(self, conn: Any = None) -> int:
        """Record every deadline that has passed (polling on `conn` if given); returns how many."""
        now = self.clock.now()
        if conn is None:
            with self.db.cursor() as cur:
                due = settlements_view.due(cur, now)
        else:
            due = settlements_view.due(conn, now)
        return sum(self.commands.expire(sid, now) for sid in due)


class TimerRunner(FollowerRunner):
    """A `FollowerRunner` whose leader ticks the timer every `interval` seconds instead of reading the log."""

    interval = 0.05

    def _follow(self, listen_conn: Any) -> None:
        timer: Any = self.follower
        listen_conn.execute("UNLISTEN *")  # the timer reads no notifications; it only polls the clock
        while not self._stop.is_set():
            timer.tick(listen_conn)  # its own connection: an idle tick never draws on the shared pool
            self.last_error = None
            self._stop.wait(self.interval)
