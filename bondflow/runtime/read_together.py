"""Loading a command's aggregates in one trip to the database.

A command loads several aggregates one after another: placing an order reads the order (a replay?), the
investor's escrow account and portfolio, the instrument and the market calendar, each through the
repository, which brings a cached copy up to date with one query of its own. That was five sequential
round trips in every `POST /v1/orders`, and under load each of them can wait for a core.

Inside `reading_together(repository, ids)` the first `get` of any of those ids reads the new events of all of
them in one statement (from each cached copy's version, or from the start), and each `get` of one of them
then takes its share instead of querying: the same aggregates the separate reads would have given, as of
one instant instead of five. Optimistic concurrency is untouched: what a command saves still collides with
whatever was recorded after it read. Each id is taken once per scope; a second `get`, a historical version,
or an id outside the scope reads as before. Scopes are per thread.

`knowing(event)` is the same scope for a follower that holds the aggregate's newest event it knows of
(the settlement saga, handling each settlement event in log order): the first `get` of that aggregate
applies the event in hand to the cached copy instead of querying for it. A copy that is further than the
event already is only kept; a copy that lacks events before it (a gap) is read as usual. Anything recorded
after the event in hand is missing from what that first `get` returns, as it would be from a read a moment
earlier: a save on it collides, and the command's retry reads afresh (the id is taken once per scope).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, project_aggregate
from eventsourcing.persistence import StoredEvent

_scopes = threading.local()


class _Scope:
    def __init__(self, ids: Iterable[UUID]) -> None:
        self.pending: dict[UUID, None] = dict.fromkeys(ids)
        self.read: dict[UUID, tuple[int, list[Any]]] | None = None  # id → (read from version, its events)


@contextmanager
def reading_together(ids: Iterable[UUID]) -> Iterator[None]:
    """Within the block, the listed aggregates are read in one statement at the first `get` of any."""
    with _within(_Scope(ids)):
        yield


@contextmanager
def knowing(event: Any) -> Iterator[None]:
    """Within the block, the first `get` of `event`'s aggregate takes `event` as the newest it has."""
    scope = _Scope([event.originator_id])
    scope.read = {event.originator_id: (int(event.originator_version) - 1, [event])}
    with _within(scope):
        yield


@contextmanager
def _within(scope: _Scope) -> Iterator[None]:
    stack: list[_Scope] = getattr(_scopes, "stack", None) or []
    _scopes.stack = stack
    stack.append(scope)
    try:
        yield
    finally:
        stack.pop()


def shared_read(repository: Any, aggregate_id: UUID) -> Any | None:
    """The aggregate (cached and brought up to date) if `aggregate_id` is pending in this thread's scope,
    else None (the caller reads it as usual). Raises `AggregateNotFoundError` for an id with no events."""
    stack: list[_Scope] | None = getattr(_scopes, "stack", None)
    if not stack:
        return None
    scope = next((s for s in reversed(stack) if aggregate_id in s.pending), None)
    if scope is None:
        return None
    if scope.read is None:
        scope.read = _read_all(repository, list(scope.pending))
    del scope.pending[aggregate_id]
    base, events = scope.read.pop(aggregate_id)
    return _bring_up_to_date(repository, aggregate_id, base, events)


def _read_all(repository: Any, ids: list[UUID]) -> dict[UUID, tuple[int, list[Any]]]:
    """Each id's events after the version its cached copy has (all of them when none is cached)."""
    cache = repository.cache
    bases: dict[UUID, int] = {}
    for aggregate_id in ids:
        try:
            bases[aggregate_id] = int(cache.get(aggregate_id).version)
        except KeyError:
            bases[aggregate_id] = 0
    event_store = repository.event_store
    recorder = event_store.recorder
    table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'  # the library's names
    found: dict[UUID, list[Any]] = defaultdict(list)
    with recorder.datastore.get_connection() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT e.originator_id, e.originator_version, e.topic, e.state"
            f" FROM {table} e JOIN unnest(%s::uuid[], %s::bigint[]) AS w (id, v)"
            " ON e.originator_id = w.id AND e.originator_version > w.v"
            " ORDER BY e.originator_id, e.originator_version",
            (list(bases), list(bases.values())),
            prepare=True,
        )
        rows = cur.fetchall()
    to_domain_event = event_store.mapper.to_domain_event
    for row in rows:
        stored = StoredEvent(
            originator_id=row["originator_id"],
            originator_version=row["originator_version"],
            topic=row["topic"],
            state=bytes(row["state"]),
        )
        found[row["originator_id"]].append(to_domain_event(stored))
    return {aggregate_id: (base, found.get(aggregate_id, [])) for aggregate_id, base in bases.items()}


def _bring_up_to_date(repository: Any, aggregate_id: UUID, base: int, events: list[Any]) -> Any:
    """Apply what was read to the cached copy (under the repository's fast-forward lock, as its own `get`
    does); a copy another thread has brought further meanwhile keeps its version and takes only newer
    events. With nothing cached, the aggregate is built from its events and cached."""
    cache = repository.cache
    if base == 0:
        try:
            cached = cache.get(aggregate_id)
        except KeyError:
            cached = None
        if cached is None:
            aggregate = project_aggregate(None, events) if events else None
            if aggregate is None:
                raise AggregateNotFoundError(aggregate_id)
            cache.put(aggregate_id, aggregate)
            return aggregate
    lock = repository._use_fastforward_lock(aggregate_id)
    try:
        with lock:
            try:
                aggregate = cache.get(aggregate_id)
            except KeyError:  # evicted meanwhile: read it as the repository would
                return None
            if aggregate.version < base:  # replaced by an older copy meanwhile: the read would leave a gap
                return None
            newer = [e for e in events if e.originator_version > aggregate.version]
            if newer:
                aggregate = project_aggregate(aggregate, newer)
                if aggregate is None:
                    raise AggregateNotFoundError(aggregate_id)
            return aggregate
    finally:
        repository._disuse_fastforward_lock(aggregate_id)
