"""One read of the log per process (ARCHITECTURE §3): every follower runner in a process pulls its batches
from one `LogReader`, which reads each stretch of the log once, filtered in SQL to the union of the
topics its followers want, decodes each event once, and keeps a window of what it read so that every
follower at a position inside the window is served from memory.

Wake-ups are coalesced: one listener thread per process LISTENs; a burst of NOTIFYs marks the log "dirty"
once, and the listener reads the new stretch itself, once for every follower. Only the followers with an
event of their topics in it are woken at once; one whose topics did not come up sleeps on, and is woken
by a read that finds it asleep for `LAZY_WAKE_SECONDS` (it then takes the stretch: nothing for it). A
follower whose position lies outside the window (behind it after a restart, or ahead of it) reads its own
stretch directly, with its own topics, until it joins the others.

A read returns events and `upto`, the position up to which the log has been scanned: every committed
event of the follower's topics in `(after, upto]` is in the batch. That is safe because the event store
serialises its inserts with a table lock (ARCHITECTURE §5), so in one snapshot the visible notification
ids are a prefix of the log: the head seen in the same statement bounds what was scanned.
"""

from __future__ import annotations

import bisect
import functools
import logging
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from psycopg import sql
from psycopg.rows import tuple_row

from bondflow.adapters.postgres import Database
from bondflow.runtime.eventstore import EventStore

log = logging.getLogger(__name__)

WINDOW = 20_000  # events kept in memory for followers a little behind the newest read
POLL_SECONDS = 1.0  # with no NOTIFY (or no listener), the log is looked at this often anyway
# A follower none of whose topics a read brought is still woken by it if it has slept this long, so that its
# position follows the log closely (what `/metrics` and a waiting test see) at a few wake-ups a second.
# Waking every follower on every read cost each follower with nothing to do about 1 % of a core at 25
# orders/s (per-thread CPU, 2026-12-03), some 0.1 of a core in the worker process.
LAZY_WAKE_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class Positioned:
    event: DomainEventProtocol[Any]
    position: int


@dataclass(frozen=True, slots=True)
class Segment:
    """Segment `index` of `count`: the aggregates whose id hashes to `index` (ARCHITECTURE §3)."""

    index: int = 0
    count: int = 1

    def owns(self, aggregate_id: Any) -> bool:
        if self.count == 1:
            return True
        value = aggregate_id.int if isinstance(aggregate_id, UUID) else int(UUID(str(aggregate_id)))
        return value % self.count == self.index

    @property
    def suffix(self) -> str:
        return "" if self.count == 1 else f"#{self.index}/{self.count}"


WHOLE = Segment()


@functools.lru_cache(maxsize=256)
def topic_array(topics: frozenset[str]) -> str:
    """`topics` as one PostgreSQL text[] literal, worked out once per topic set: psycopg would otherwise
    adapt the whole list element by element on every read (a visible share of a follower process's CPU)."""
    quoted = ('"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"' for t in sorted(topics))
    return "{" + ",".join(quoted) + "}"


# the columns of a row `select_after` returns, in order (plain tuples: building a dict per row was a
# visible share of a rebuild's CPU)
POSITION, ORIGINATOR_ID, ORIGINATOR_VERSION, TOPIC, STATE = range(5)


def select_after(
    store: EventStore, after: int, topics: Collection[str], limit: int, stop: int | None = None
) -> tuple[list[tuple[Any, ...]], int]:
    """One statement: up to `limit` stored events of `topics` after `after` (and at most `stop`), and the
    head of the log in the same snapshot. Returns (rows, scanned up to); a row is
    `(position, originator_id, originator_version, topic, state)`."""
    recorder: Any = store.recorder
    statement = sql.SQL(
        "SELECT h.head, e.notification_id, e.originator_id, e.originator_version, e.topic, e.state"
        " FROM (SELECT least(max(notification_id), %s::bigint) AS head FROM {t}) AS h LEFT JOIN LATERAL ("
        "   SELECT * FROM {t} WHERE notification_id > %s AND notification_id <= h.head"
        "   AND topic = ANY(%s::text[]) ORDER BY notification_id LIMIT %s) AS e ON true"
    ).format(t=sql.Identifier(recorder.datastore.schema, recorder.events_table_name))
    with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
        curs.execute(statement, (stop, after, topic_array(frozenset(topics)), limit), prepare=True)
        rows = curs.fetchall()
    head = int(rows[0][0] or 0) if rows else 0
    found = [r[1:] for r in rows if r[1] is not None]
    if len(found) >= limit:
        return found, int(found[-1][POSITION])
    return found, max(head, after)


class _Stored(NamedTuple):
    """What the mapper reads of a stored event (a tuple: a third of the cost of building a `Notification`)."""

    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def decode(store: EventStore, rows: Sequence[tuple[Any, ...]]) -> list[tuple[int, str, Positioned]]:
    """Each row of `select_after` as (position, topic, the decoded event at its position)."""
    to_domain_event = store.mapper.to_domain_event
    decoded = []
    for position, originator_id, originator_version, topic, state in rows:
        stored = _Stored(originator_id, originator_version, topic, bytes(state))
        decoded.append((position, topic, Positioned(to_domain_event(cast(Any, stored)), position)))
    return decoded


class Undecoded(NamedTuple):
    """A stored event handed on as it was read, for a follower that reads its stored JSON itself
    (`reads_undecoded`); `decode()` gives the event wherever that follower needs it after all."""

    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
    mapper: Any

    def decode(self) -> Any:
        return self.mapper.to_domain_event(_Stored(*self[:4]))


def undecoded(store: EventStore, rows: Sequence[tuple[Any, ...]]) -> list[tuple[int, str, Positioned]]:
    """Each row of `select_after` as (position, topic, the stored event, not decoded, at its position)."""
    mapper = store.mapper
    return [
        (
            position,
            topic,
            Positioned(cast(Any, Undecoded(oid, version, topic, bytes(state), mapper)), position),
        )
        for position, oid, version, topic, state in rows
    ]


class LogReader:
    """The process's one reader of the log; followers call `read` from their own threads."""

    def __init__(self, store: EventStore, db: Database, *, batch_size: int = 500) -> None:
        self.store = store
        self.db = db
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # for everyone: a stop, a new window, a direct read
        # a waiting follower's thread → (its topics, its own wake-up, since when it waits)
        self._waiting: dict[int, tuple[frozenset[str], threading.Condition, float]] = {}
        self._conditions: dict[int, threading.Condition] = {}  # each follower thread's own, kept
        self._topics: frozenset[str] = frozenset()
        self._subscribers: dict[int, frozenset[str]] = {}
        self._entries: list[tuple[int, str, Positioned]] = []
        self._keys: list[int] = []
        self._floor: int | None = None  # the window covers (floor, scanned] for `_topics`
        self._scanned = 0
        self._dirty = True
        self._fetching = False
        self._listener: threading.Thread | None = None
        self.reads = 0  # statements run against the log (shared and direct), for tests and metrics

    def subscribe(self, key: int, topics: frozenset[str]) -> None:
        with self._cond:
            self._subscribers[key] = topics
            if not topics <= self._topics:
                self._topics = self._topics | topics
                self._floor = None  # what the window holds was filtered without the new topics
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(target=self._listen, name="log-reader", daemon=True)
                self._listener.start()

    def unsubscribe(self, key: int) -> None:
        with self._cond:
            self._subscribers.pop(key, None)
            self._wake_all()
            last, listener = not self._subscribers, self._listener
        if (
            last
            and listener is not None
            and listener.is_alive()
            and listener is not threading.current_thread()
        ):
            self._stop_listening(listener)

    def _stop_listening(self, listener: threading.Thread) -> None:
        """The last follower left: wake the listener with a NOTIFY of its own so that it closes its
        connection now, not at its next poll (a database dropped meanwhile would find it still there)."""
        try:
            with self.db.transaction() as cur:
                cur.execute("SELECT pg_notify(%s, '')", (self.store.listen_channel,))
        except Exception:  # the database is gone already: the listener leaves at its next poll
            return
        listener.join(timeout=POLL_SECONDS + 1)

    def wake(self) -> None:
        """Mark the log as possibly grown and wake every waiting follower (a stop, a lost listener)."""
        with self._cond:
            self._dirty = True
            self._wake_all()

    def _wake_all(self) -> None:
        self._cond.notify_all()
        for _, waiter, _ in self._waiting.values():
            waiter.notify()

    def _news(self) -> None:
        """The log may have grown (a NOTIFY, a poll). If followers are waiting for news, read on here, in
        the listener's thread, while there is more, waking those each stretch is for; with no window yet,
        every follower (one of them sets it up). With none waiting (each busy with a batch, or lingering
        after one), the next to ask reads: a burst meanwhile costs one read."""
        with self._cond:
            self._dirty = True
            if self._floor is None or not self._subscribers:
                self._wake_all()
                return
            while self._dirty and self._waiting and not self._fetching and self._floor is not None:
                self._fetch_locked()

    def read(
        self,
        after: int,
        topics: frozenset[str],
        limit: int,
        timeout: float,
        segment: Segment = WHOLE,
        stopping: threading.Event | None = None,
    ) -> tuple[list[Positioned], int] | None:
        """The follower's next batch after `after`, or None if nothing new came within `timeout` or the
        follower is `stopping` (its stop wakes every reader: it returns at once instead of at the timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if stopping is not None and stopping.is_set():
                    return None
                if not topics <= self._topics:
                    stop = None  # not subscribed: always on its own
                    break
                if self._floor is None or (after > self._scanned and not self._fetching):
                    # no window yet, or this follower is ahead of it (a restart, a replay switch): the
                    # window moves to it; followers left behind catch up on their own, up to the window
                    self._floor = self._scanned = after
                    self._entries, self._keys, self._dirty = [], [], True
                if self._floor <= after < self._scanned:
                    return self._from_window(after, topics, limit, segment)
                if after < self._floor:
                    stop = self._scanned
                    break
                if after == self._scanned and self._dirty and not self._fetching:
                    self._fetch_locked()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._wait_for(topics, remaining)
        return self._read_direct(after, topics, limit, segment, stop)

    def _wait_for(self, topics: frozenset[str], timeout: float) -> None:
        """Sleep (the lock dropped meanwhile) until a read brings one of `topics`, finds this follower asleep
        for `LAZY_WAKE_SECONDS`, or everyone is woken; or until `timeout`."""
        ident = threading.get_ident()
        waiter = self._conditions.get(ident)
        if waiter is None:
            waiter = self._conditions[ident] = threading.Condition(self._lock)
        self._waiting[ident] = (topics, waiter, time.monotonic())
        try:
            waiter.wait(timeout)
        finally:
            self._waiting.pop(ident, None)

    def _from_window(
        self, after: int, topics: frozenset[str], limit: int, segment: Segment
    ) -> tuple[list[Positioned], int]:
        start = bisect.bisect_right(self._keys, after)
        batch: list[Positioned] = []
        for position, topic, item in self._entries[start:]:
            if topic in topics and segment.owns(item.event.originator_id):
                batch.append(item)
                if len(batch) >= limit:
                    return batch, position
        return batch, self._scanned

    def _fetch_locked(self) -> None:
        """Read the next stretch for every follower; called holding the lock, which it drops meanwhile."""
        self._fetching, self._dirty = True, False
        start = self._scanned
        topics = self._topics
        try:
            self._cond.release()
            try:
                rows, scanned = select_after(self.store, start, topics, self.batch_size)
                entries = decode(self.store, rows)
            finally:
                self._cond.acquire()
            self.reads += 1
            if topics != self._topics:  # the topics grew while we read: the window starts again
                self._floor = None
                self._wake_all()
                return
            if self._floor is None or self._scanned != start:  # the window moved meanwhile
                self._wake_all()
                return
            self._entries.extend(entries)
            self._keys.extend(p for p, _, _ in entries)
            self._scanned = scanned
            if len(rows) >= self.batch_size:
                self._dirty = True  # there is more to read already
            self._trim()
            self._wake_for({topic for _, topic, _ in entries})
        except Exception:
            self._dirty = True
            self._wake_all()
            raise
        finally:
            self._fetching = False

    def _wake_for(self, arrived: set[str]) -> None:
        """After a read: wake the followers it brought events for, and those asleep for a while."""
        self._cond.notify_all()  # a follower reading on its own may wait for this read to finish
        stale = time.monotonic() - LAZY_WAKE_SECONDS
        for wanted, waiter, since in self._waiting.values():
            if since < stale or not wanted.isdisjoint(arrived):
                waiter.notify()

    def _trim(self) -> None:
        excess = len(self._entries) - WINDOW
        if excess > 0:
            self._floor = self._keys[excess - 1]
            del self._entries[:excess]
            del self._keys[:excess]

    def _read_direct(
        self, after: int, topics: frozenset[str], limit: int, segment: Segment, stop: int | None
    ) -> tuple[list[Positioned], int] | None:
        """A follower behind the window reads its own topics, up to where the window is (so it joins it)."""
        rows, scanned = select_after(self.store, after, topics, limit, stop)
        with self._cond:
            self.reads += 1
        if scanned <= after:
            with self._cond:
                self._cond.wait(min(POLL_SECONDS, 0.1))
            return None
        entries = decode(self.store, rows)
        return [item for _, _, item in entries if segment.owns(item.event.originator_id)], scanned

    def _listen(self) -> None:
        """Turn NOTIFYs into one `wake` each burst; poll now and then in case a notification was missed."""
        channel = self.store.listen_channel
        while True:
            with self._cond:
                if not self._subscribers:
                    return
            try:
                with self.db.dedicated_connection() as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self.wake()  # anything committed before LISTEN took effect
                    self._relay_notifies(conn)
            except Exception:  # the database went away: poll until it is back
                log.warning("log reader lost its LISTEN connection; retrying", exc_info=True)
                self.wake()
                time.sleep(POLL_SECONDS)

    def _relay_notifies(self, conn: Any) -> None:
        while True:
            with self._cond:
                if not self._subscribers:
                    return
            woke = False
            for _ in conn.notifies(timeout=POLL_SECONDS, stop_after=1):
                woke = True
            if woke:
                for _ in conn.notifies(timeout=0.0):  # drain the rest of the burst: one read for all
                    pass
            self._news()


_shared: dict[int, LogReader] = {}
_shared_lock = threading.Lock()


def shared_reader(store: EventStore, db: Database, batch_size: int = 500) -> LogReader:
    """The one reader of `store` in this process."""
    with _shared_lock:
        reader = _shared.get(id(store))
        if reader is None or reader.store is not store:
            reader = _shared[id(store)] = LogReader(store, db, batch_size=batch_size)
        return reader


def forget_reader(store: EventStore) -> None:
    with _shared_lock:
        _shared.pop(id(store), None)
