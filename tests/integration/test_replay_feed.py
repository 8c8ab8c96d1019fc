"""A rebuild reads the log once and hands each read model only the batches that hold its events: a read model
with nothing in most of the log is not moved batch by batch, yet still ends at the last event read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import pytest
from eventsourcing.utils import get_topic

from bondflow.adapters.postgres import Database
from bondflow.domain.orders import Order
from bondflow.runtime.followers import Follower, Positioned
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap, postgres_read_models, replay_elsewhere
from bondflow.wiring.container import Container
from bondflow.wiring.replay import (
    BATCH,
    derived_columns,
    feed,
    owned_tables,
    pg_checksum,
    replay_database,
)
from bondflow.wiring.replay_lanes import ElsewhereFailed
from tests.integration.test_followers import write_orders

pytestmark = pytest.mark.integration


@pytest.fixture
def idle_container(settings: Settings) -> Iterator[Container]:
    built = bootstrap(settings)
    yield built
    built.close()


@dataclass
class Recording:
    """A follower that keeps what it is handed (the real read models are checked in test_replay)."""

    name: str
    topics: frozenset[str]
    calls: list[tuple[int, int]] = field(default_factory=list)  # (events handed, upto)
    positions: list[int] = field(default_factory=list)
    last: int = 0

    def setup(self) -> None:
        pass

    def position(self) -> int:
        return self.last

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        assert all(e.position <= upto for e in events)
        assert all(e.position > self.last for e in events), "an event handed twice"
        self.calls.append((len(events), upto))
        self.positions.extend(e.position for e in events)
        self.last = upto


def test_a_read_model_is_handed_only_the_batches_with_its_events_and_ends_at_the_last_one_read(
    idle_container: Container,
) -> None:
    early = write_orders(idle_container, 100, cancel_every=10)  # 210 events: 10 cancels early in the log
    head = write_orders(idle_container, 2 * BATCH)  # then 4 batches' worth with no cancel
    cancelled = get_topic(Order.OrderCancelled)
    placed = get_topic(Order.OrderPlaced)
    cancels = Recording("cancels", frozenset({cancelled}))
    orders = Recording("orders", frozenset({placed, cancelled}))
    idle = Recording("nothing", frozenset({"bondflow.domain.never:Happens"}))

    read = feed(idle_container.store, [cancels, orders, idle], head)

    assert read == 100 + 10 + 2 * BATCH  # every event of a topic someone follows, read once (no accepts)
    assert len(cancels.positions) == 10 and max(cancels.positions) <= early
    assert cancels.calls[-1] == (0, head)  # moved to the end once, not once per batch it skipped
    assert len(cancels.calls) == 2, cancels.calls
    assert idle.calls == [(0, head)]
    assert len(orders.positions) == 100 + 2 * BATCH + 10
    assert orders.positions == sorted(orders.positions)
    assert all(n > 0 for n, _ in orders.calls) and orders.last == head


@dataclass
class Coalescing(Recording):
    """A recording follower that asks a rebuild for batches of at least this many events."""

    rebuild_batch_events: int = 0


def test_a_read_model_asking_for_larger_batches_is_handed_them_in_order_and_ends_at_the_last_one_read(
    idle_container: Container,
) -> None:
    head = write_orders(idle_container, 2 * BATCH + 300)  # placed: 3 batches of the log, the last one short
    placed = get_topic(Order.OrderPlaced)
    large = Coalescing("large", frozenset({placed}), rebuild_batch_events=BATCH + 1)
    usual = Recording("usual", frozenset({placed}))

    read = feed(idle_container.store, [large, usual], head)

    assert read == 2 * BATCH + 300
    assert [n for n, _ in large.calls] == [2 * BATCH, 300]  # two of the log's batches, then what was left
    assert large.calls[-1][1] == head and large.last == head
    assert large.positions == usual.positions == sorted(usual.positions)  # the same events, once, in order
    assert [n for n, _ in usual.calls] == [BATCH, BATCH, 300] and usual.last == head


def refuse_to_build(replica: Database) -> Follower:
    raise RuntimeError("this read model cannot be built")


def _rebuild(
    container: Container, settings: Settings, head: int, *, elsewhere: bool
) -> dict[str, str | None]:
    """Every PostgreSQL read model rebuilt to `head`: each table's checksum."""
    schema = f"feed_{uuid.uuid4().hex[:8]}"
    replica = replay_database(container.db, schema)
    try:
        followers = postgres_read_models(replica, container.signing_key)
        for follower in followers:
            follower.setup()
        away = replay_elsewhere(settings.resolved_data_dir) if elsewhere else []
        assert feed(container.store, followers, head, elsewhere=away, replica=replica, elsewhere_from=0) > 0
        with replica.cursor() as cur:
            positions = dict(cur.execute("SELECT name, position FROM projection_positions").fetchall())
        assert {f.name: positions.get(f.name) for f in followers} == {f.name: head for f in followers}
    finally:
        replica.close()
    leave_out = derived_columns(followers)
    return {
        table: pg_checksum(container.db, table, key, schema, leave_out.get(table, ()))
        for table, key in owned_tables(followers).items()
    }


def test_read_models_fed_in_other_processes_write_what_they_write_here(
    idle_container: Container, settings: Settings
) -> None:
    """Every read model built in the processes `bondflow replay` uses on a big log (the regulator stream in
    one, reading stored JSON itself; the others in another) holds the same rows, hashes and positions as
    built in this one: the log read once, its rows sent on."""
    write_orders(idle_container, 2 * BATCH, cancel_every=9)
    head = idle_container.store.head_position()
    here = _rebuild(idle_container, settings, head, elsewhere=False)
    away = _rebuild(idle_container, settings, head, elsewhere=True)
    assert here["regulator_stream"] is not None and here["orders_view"] is not None
    assert here == away


def test_a_read_model_failing_in_another_process_fails_the_rebuild_with_its_traceback(
    idle_container: Container,
) -> None:
    write_orders(idle_container, 50)
    head = idle_container.store.head_position()
    replica = replay_database(idle_container.db, f"feed_{uuid.uuid4().hex[:8]}")
    try:
        followers = postgres_read_models(replica, idle_container.signing_key)
        with pytest.raises(ElsewhereFailed, match="this read model cannot be built"):
            feed(
                idle_container.store,
                followers,
                head,
                elsewhere=[{"orders_view": refuse_to_build}],
                replica=replica,
                elsewhere_from=0,
            )
    finally:
        replica.close()


def test_a_read_model_to_build_elsewhere_must_be_one_of_the_followers(idle_container: Container) -> None:
    replica = replay_database(idle_container.db, f"feed_{uuid.uuid4().hex[:8]}")
    try:
        with pytest.raises(ValueError, match="no follower named"):
            feed(
                idle_container.store,
                [],
                10,
                elsewhere=[{"nobody": refuse_to_build}],
                replica=replica,
                elsewhere_from=0,
            )
    finally:
        replica.close()


def _index_catalog(replica: Database) -> set[tuple[str, str, str]]:
    """(table, index, definition) of every index in the replica's schema, the schema's name left out."""
    with replica.cursor() as cur:
        rows = cur.execute(
            "SELECT tablename, indexname, replace(indexdef, current_schema() || '.', '')"
            " FROM pg_indexes WHERE schemaname = current_schema()"
        ).fetchall()
    return {(str(t), str(i), str(d)) for t, i, d in rows}


@dataclass
class CatalogWatcher:
    """Follows order events and, on its first batch, notes which indexes exist while the load runs."""

    replica: Database
    name: str = "catalog_watcher"
    topics: frozenset[str] = frozenset({get_topic(Order.OrderPlaced)})
    during: set[tuple[str, str, str]] | None = None

    def setup(self) -> None:
        pass

    def position(self) -> int:
        return 0

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        if self.during is None:
            self.during = _index_catalog(self.replica)


def test_a_rebuild_builds_secondary_indexes_after_its_load_and_ends_with_every_one(
    idle_container: Container,
) -> None:
    """Non-unique indexes and the regulator stream's `event_id`/`position` constraints are absent while the
    read models load and all there, as their DDL defines them, once the rebuild is done; primary keys (and
    unique keys projectors update by) stay throughout."""
    head = write_orders(idle_container, 300, cancel_every=7)
    replica = replay_database(idle_container.db, f"feed_{uuid.uuid4().hex[:8]}")
    try:
        followers = postgres_read_models(replica, idle_container.signing_key)
        for follower in followers:
            follower.setup()
        before = _index_catalog(replica)
        watcher = CatalogWatcher(replica)
        feed(idle_container.store, [*followers, watcher], head, replica=replica)
        after = _index_catalog(replica)
        with replica.cursor() as cur:
            persistence = set(
                cur.execute(
                    "SELECT relpersistence FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
                    " AND relkind = 'r' AND relname = ANY(%s)",
                    (sorted(owned_tables(followers)),),
                ).fetchall()
            )
    finally:
        replica.close()
    assert after == before
    assert persistence == {("u",)}  # loaded unlogged (a switch makes them logged first)
    assert watcher.during is not None
    deferred = {index for _, index, _ in before - watcher.during}
    assert {
        "orders_view_created",
        "orders_view_user_created",
        "user_feed_user_position",
        "regulator_stream_event_id_key",
        "regulator_stream_position_key",
    } <= deferred
    kept = {index for _, index, _ in watcher.during}
    assert {"orders_view_pkey", "regulator_stream_pkey", "escrow_balances_account_id_key"} <= kept
    assert not any(index.endswith("_pkey") for index in deferred)
