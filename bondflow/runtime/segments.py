"""Segments (ARCHITECTURE §3): one follower run as K segments, each taking the events whose aggregate id
hashes to it, each with its own position (`name#i/K`) and its own leader lock, so one follower's load
spreads over threads (every segment in this process shares its one read of the log) and processes (a
process leads the segments whose lock it holds; the others stand by and take over when it dies).

Rows of one aggregate are written by one segment only, so a Postgres projector stays exactly once (rows
and segment position in one transaction); an effect follower stays at most once per step (each segment
records after each step, like the whole follower did). A segment with no position yet starts from the
lowest position this follower had (whole, or in segments of another count): it may redeliver, never skip.

Followers whose output is one sequence (the regulator chain, the Kafka relay), whose rows gather several
aggregates (holdings), that keep their position outside PostgreSQL (ClickHouse), or that do not read
the log (the timer) cannot be segmented.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.runtime import positions
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Follower, FollowerRunner
from bondflow.runtime.log_reader import LogReader, Segment

NOT_SEGMENTABLE = frozenset(
    {
        "regulator_stream",
        "kafka_relay",
        "holdings_view",
        "order_flow",
        "fill_analytics",
        "settlement_timer",
    }
)


def segment_name(name: str, segment: Segment) -> str:
    return f"{name}{segment.suffix}"


def segment_copy(follower: Follower, segment: Segment) -> Follower:
    """The follower as segment `segment`: same collaborators, its own name (position, lock) and caches."""
    clone: Any = copy.copy(follower)
    clone.name = segment_name(follower.name, segment)
    for attribute, fresh in (("_flight", None), ("_recent", {}), ("_frontier", None)):
        if hasattr(clone, attribute):
            setattr(clone, attribute, fresh)
    return clone  # type: ignore[no-any-return]


def seed_positions(db: Database, name: str, names: list[str]) -> None:
    """Give every segment without a position the lowest one this follower has recorded (whole or not)."""
    positions.ensure_table(db)
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO projection_positions (name, position)"
            " SELECT n, (SELECT coalesce(min(position), 0) FROM projection_positions"
            "            WHERE name = %s OR name LIKE %s)"
            " FROM unnest(%s::text[]) AS n ON CONFLICT (name) DO NOTHING",
            (name, f"{name}#%", names),
        )


class Segments:
    """Stands for the whole follower where one is expected (its name, its topics, its position: the
    lowest of its segments')."""

    def __init__(self, follower: Follower, db: Database, count: int) -> None:
        self.whole = follower
        self.name = follower.name
        self.topics = follower.topics
        self.db = db
        self.names = [segment_name(follower.name, Segment(i, count)) for i in range(count)]

    def setup(self) -> None:
        self.whole.setup()
        seed_positions(self.db, self.name, self.names)

    def position(self) -> int:
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT min(position), count(*) FROM projection_positions WHERE name = ANY(%s)", (self.names,)
            ).fetchone()
        if row is None or int(row[1]) < len(self.names):
            return 0
        return int(row[0])

    def process(self, events: Any, upto: int) -> None:  # pragma: no cover - the segments process
        raise RuntimeError("a segmented follower is processed by its segments")


class AnyLeads(threading.Event):
    """Set while at least one of the segments in this process leads."""

    def __init__(self, runners: list[FollowerRunner]) -> None:
        super().__init__()
        self.runners = runners

    def is_set(self) -> bool:
        return any(r.is_leader.is_set() for r in self.runners)

    def wait(self, timeout: float | None = None) -> bool:
        stop = threading.Event()
        waited = 0.0
        while not self.is_set():
            if timeout is not None and waited >= timeout:
                return False
            stop.wait(0.05)
            waited += 0.05
        return True


class SegmentedRunner(FollowerRunner):
    """Runs segments `only` (default: all) of a follower split `count` ways, one runner thread each."""

    def __init__(
        self,
        follower: Follower,
        store: EventStore,
        db: Database,
        *,
        count: int,
        only: list[int] | None = None,
        batch_size: int = 500,
        reader: LogReader | None = None,
    ) -> None:
        if follower.name in NOT_SEGMENTABLE:
            raise ValueError(f"{follower.name} cannot run in segments")
        if count < 1 or any(not 0 <= i < count for i in only or []):
            raise ValueError(f"segments must be 0 … {count - 1}")
        whole = Segments(follower, db, count)
        super().__init__(whole, store, db, batch_size=batch_size, reader=reader)
        self.count = count
        chosen = sorted(set(only)) if only else list(range(count))
        self.segments = [
            FollowerRunner(
                segment_copy(follower, Segment(i, count)),
                store,
                db,
                batch_size=batch_size,
                reader=self.reader,
                segment=Segment(i, count),
            )
            for i in chosen
        ]
        self.is_leader = AnyLeads(self.segments)

    def start(self) -> None:
        self.follower.setup()
        for runner in self.segments:
            runner.start()

    def signal_stop(self) -> None:
        for runner in self.segments:
            runner.signal_stop()

    def stop(self, timeout: float = 10.0) -> None:
        for runner in self.segments:
            runner.stop(timeout)

    @property
    def alive(self) -> bool:
        return any(r.alive for r in self.segments)

    def position(self) -> int:
        return self.follower.position()

    @property
    def segment_errors(self) -> dict[str, str]:
        return {r.name: r.last_error for r in self.segments if r.last_error}


def run_in_segments(
    followers: dict[str, FollowerRunner], name: str, count: int, only: list[int] | None = None
) -> None:
    """Replace the runner of `name` by one running it in `count` segments (or the chosen ones)."""
    runner = followers[name]
    whole = runner.follower.whole if isinstance(runner.follower, Segments) else runner.follower
    followers[name] = SegmentedRunner(
        whole,
        runner.store,
        runner.db,
        count=count,
        only=only,
        batch_size=runner.batch_size,
        reader=runner.reader,
    )
