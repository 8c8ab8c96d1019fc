"""Each investor's live updates in PostgreSQL: one row per change of their orders, fills, settlements,
escrow and KYC, keyed by log position (the SSE `id`, so `Last-Event-ID` resumes exactly).

Later events of an aggregate name only its id; the owner is learnt from the aggregate's first event (every
one of them carries `user_id`) and kept in `user_feed_owners`. Only whitelisted, non-personal fields are
copied into a row's data. Rows and position commit together, with a NOTIFY naming the users whose feed
grew (`projections.live.wakeups`), so their open streams read at once instead of polling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.utils import get_topic
from orjson import dumps

from bondflow.adapters.postgres import Database
from bondflow.domain.escrow import EscrowAccount
from bondflow.domain.kyc import KycCase
from bondflow.domain.orders import Order, OrderStatus
from bondflow.domain.settlement import Settlement
from bondflow.runtime import positions
from bondflow.runtime.followers import Positioned
from projections.base.postgres import PostgresProjector
from projections.live.wakeups import announce

DDL = """
CREATE TABLE IF NOT EXISTS user_feed (
    position bigint PRIMARY KEY,
    user_id text NOT NULL,
    kind text NOT NULL,
    data jsonb NOT NULL,
    at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS user_feed_user_position ON user_feed (user_id, position);
CREATE TABLE IF NOT EXISTS user_feed_owners (
    aggregate_id uuid PRIMARY KEY,
    user_id text NOT NULL
);
"""

KINDS: dict[type, str] = {Order: "order", Settlement: "settlement", EscrowAccount: "escrow", KycCase: "kyc"}
FILLS = frozenset({"OrderPartiallyFilled", "OrderFilled"})
ORDER_STATUS = {
    "OrderPlaced": OrderStatus.NEW.value,
    "OrderAccepted": OrderStatus.PENDING.value,
    "OrderRejected": OrderStatus.REJECTED.value,
    "OrderCancelled": OrderStatus.CANCELLED.value,
}
KYC_STATUS = {"Started": "pending", "Restarted": "pending", "Verified": "verified", "Rejected": "rejected"}
# what a client may see of an event: business facts, never personal data
VISIBLE = (
    "isin",
    "side",
    "qty",
    "limit_clean_price",
    "status",
    "trade_id",
    "order_id",
    "dealer",
    "clean_price",
    "amount",
    "payment_id",
    "method",
    "reason",
    "code",
    "tier",
    "settled",
    "state",
    "tx_hash",
)


def event_classes(aggregate: type) -> Iterator[type]:
    """Every event class declared on an aggregate (the library nests them as attributes)."""
    base = getattr(aggregate, "Event", None)
    for value in vars(aggregate).values():
        if isinstance(value, type) and base is not None and issubclass(value, base) and value is not base:
            yield value


def _plain(value: Any) -> Any:
    """A field's value as the feed shows it: text, a number or a flag as it is; a decimal or an id as text; a
    date or a time in ISO 8601; anything else (a list, a mapping) left out as null."""
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:  # the common cases, without isinstance
        return value
    if kind is Decimal or kind is UUID:
        return str(value)
    if isinstance(value, Decimal | UUID | datetime | date):
        return str(value) if not isinstance(value, datetime | date) else value.isoformat()
    if isinstance(value, str | int | bool):
        return value
    return None


class LiveUpdatesProjector(PostgresProjector):
    name = "user_feed"
    tables: ClassVar[dict[str, str]] = {"user_feed": "position", "user_feed_owners": "aggregate_id"}
    ddl = DDL
    topics = frozenset(get_topic(cls) for aggregate in KINDS for cls in event_classes(aggregate))

    OWNERS_KEPT = 100_000  # aggregate → owner never changes: kept in memory, up to this many

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._known: dict[UUID, str] = {}

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        with self.db.transaction() as cur:
            # both tables, in the order of `tables`, before any read or write: `bondflow replay --switch`
            # takes them in this order, so a batch and a switch queue for each other instead of deadlocking
            cur.execute("LOCK TABLE user_feed, user_feed_owners IN ROW EXCLUSIVE MODE")
            first_seen, owners = self._owners(cur, events)
            rows = [row for item in events if (row := self._row(owners, item)) is not None]
            if rows:  # one statement per table and batch, whatever its size
                cur.execute(INSERT_ROWS, [list(column) for column in zip(*rows, strict=True)])
                announce(cur, {row[1] for row in rows})  # wakes those users' streams at commit
            if first_seen:
                cur.execute(INSERT_OWNERS, (list(first_seen), list(first_seen.values())))
            positions.record_position(cur, self.name, upto, durable=self.durable_commits)
        if len(self._known) + len(owners) > self.OWNERS_KEPT:
            self._known.clear()
        self._known.update(owners)  # only once committed: a rolled-back batch's owners are learnt again

    def _owners(self, cur: Any, events: Sequence[Positioned]) -> tuple[dict[UUID, str], dict[UUID, str]]:
        """(the aggregates first seen in the batch → owner, every aggregate in the batch → owner): from its
        first event, from memory, or, for the rest, from `user_feed_owners` in one query."""
        first_seen: dict[UUID, str] = {}
        owners: dict[UUID, str] = {}
        unknown: set[UUID] = set()
        for item in events:
            event: Any = item.event
            aggregate_id = event.originator_id
            owner = getattr(event, "user_id", None)
            if isinstance(owner, str) and event.originator_version == 1:
                owners[aggregate_id] = first_seen[aggregate_id] = owner
            elif aggregate_id in self._known:
                owners.setdefault(aggregate_id, self._known[aggregate_id])
            elif aggregate_id not in owners:
                unknown.add(aggregate_id)
        unknown -= owners.keys()
        if unknown:
            found = cur.execute(
                "SELECT aggregate_id, user_id FROM user_feed_owners WHERE aggregate_id = ANY(%s)",
                (list(unknown),),
            ).fetchall()
            owners.update({a: str(u) for a, u in found})
        return first_seen, owners

    def _row(self, owners: dict[UUID, str], item: Positioned) -> tuple[Any, ...] | None:
        event: Any = item.event
        aggregate_id = event.originator_id
        owner = owners.get(aggregate_id)
        if owner is None:
            return None
        shape = _shape(type(event))
        data = {"event": shape.name, "id": str(aggregate_id)}
        data.update(zip(shape.visible, map(_plain, shape.values(event)), strict=True))
        if shape.status is not None:
            data["status"] = shape.status
        return (item.position, owner, shape.kind, dumps(data).decode(), event.timestamp)


INSERT_ROWS = (
    "INSERT INTO user_feed (position, user_id, kind, data, at)"
    " SELECT p, u, k, d::jsonb, a FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[],"
    " %b::timestamptz[]) AS t (p, u, k, d, a)"
    " ON CONFLICT (position) DO NOTHING"
)
INSERT_OWNERS = (
    "INSERT INTO user_feed_owners (aggregate_id, user_id)"
    " SELECT * FROM unnest(%b::uuid[], %b::text[]) ON CONFLICT (aggregate_id) DO NOTHING"
)


@dataclass(frozen=True)
class _Shape:
    """What a row of one event class looks like: its kind, its name, the visible fields it has, and the
    status it sets (if any). Worked out once per class, not per event."""

    name: str
    kind: str
    visible: tuple[str, ...]
    status: str | None

    values: Callable[[Any], tuple[Any, ...]]  # the event's visible fields, in the order of `visible`


_SHAPES: dict[type, _Shape] = {}


def _shape(event_class: type) -> _Shape:
    shape = _SHAPES.get(event_class)
    if shape is None:
        shape = _SHAPES[event_class] = _shape_of(event_class)
    return shape


def _shape_of(event_class: type) -> _Shape:
    aggregate = next(a for a in KINDS if issubclass(event_class, a.Event))  # type: ignore[attr-defined]
    name = event_class.__qualname__.rsplit(".", 1)[-1]
    kind = "fill" if name in FILLS else KINDS[aggregate]
    fields = (
        {f.name for f in dataclasses.fields(event_class)} if dataclasses.is_dataclass(event_class) else set()
    )
    visible = tuple(f for f in VISIBLE if f in fields or hasattr(event_class, f))
    status = ORDER_STATUS.get(name) if kind == "order" else KYC_STATUS.get(name) if kind == "kyc" else None
    get = attrgetter(*visible) if visible else None
    values: Callable[[Any], tuple[Any, ...]] = (
        (lambda event: ()) if get is None else get if len(visible) > 1 else (lambda event: (get(event),))
    )
    return _Shape(name, kind, visible, status, values)
