"""The process's one reader of the log: several followers share each read, a follower far behind the others
catches up on its own, and a burst of commits costs a few reads, not one per follower per commit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from bondflow.domain.orders import Order
from bondflow.runtime.effect_follower import topic_of
from bondflow.runtime.followers import FollowerRunner, Positioned, wait_for_position
from bondflow.runtime.log_reader import (
    LAZY_WAKE_SECONDS,
    POLL_SECONDS,
    TOPIC,
    LogReader,
    select_after,
    topic_array,
)
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from projections.holdings.projector import HoldingsProjector
from projections.orders.projector import OrdersProjector
from projections.trades.projector import TradesProjector
from projections.users.projector import InvestorsProjector
from tests.integration.test_followers import orders_view_counts, write_orders

pytestmark = pytest.mark.integration


@pytest.fixture
def idle_container(settings: Settings) -> Iterator[Container]:
    built = bootstrap(settings)
    yield built
    built.close()


def runners(container: Container, reader: LogReader, batch: int) -> list[FollowerRunner]:
    db = container.db
    followers = [OrdersProjector(db), TradesProjector(db), HoldingsProjector(db), InvestorsProjector(db)]
    return [FollowerRunner(f, container.store, db, batch_size=batch, reader=reader) for f in followers]


def test_followers_in_one_process_share_each_read_of_the_log(idle_container: Container) -> None:
    head = write_orders(idle_container, 2000)  # 4000 events
    reader = LogReader(idle_container.store, idle_container.db, batch_size=500)
    group = runners(idle_container, reader, 500)
    for runner in group:
        runner.start()
    try:
        for runner in group:
            assert wait_for_position(runner.follower.position, head, timeout=60), runner.name
        reads_to_head = reader.reads
        # the log read once for all four (8 batches of 500 orders events, plus a few empty looks and
        # the direct reads of followers that started before the others), not once per follower
        assert reads_to_head <= 8 + 4 * 4, reads_to_head

        burst = write_orders(idle_container, 300)  # a burst of commits while they all follow
        for runner in group:
            assert wait_for_position(runner.follower.position, burst, timeout=30), runner.name
        assert reader.reads - reads_to_head <= 12, reader.reads - reads_to_head
    finally:
        for runner in group:
            runner.stop()
    assert orders_view_counts(idle_container) == (2300, 2300)


def test_a_follower_far_behind_the_others_catches_up_and_joins_them(idle_container: Container) -> None:
    head = write_orders(idle_container, 1500)
    reader = LogReader(idle_container.store, idle_container.db, batch_size=200)
    ahead = FollowerRunner(
        TradesProjector(idle_container.db), idle_container.store, idle_container.db, reader=reader
    )
    ahead.start()
    try:
        assert wait_for_position(ahead.follower.position, head, timeout=30)
        behind = FollowerRunner(
            OrdersProjector(idle_container.db),
            idle_container.store,
            idle_container.db,
            batch_size=200,
            reader=reader,
        )
        behind.start()
        try:
            assert wait_for_position(behind.follower.position, head, timeout=60)
            more = write_orders(idle_container, 50)
            assert wait_for_position(behind.follower.position, more, timeout=30)
            assert wait_for_position(ahead.follower.position, more, timeout=30)
        finally:
            behind.stop()
    finally:
        ahead.stop()
    assert orders_view_counts(idle_container) == (1550, 1550)


def test_the_topic_filter_reaches_postgresql_as_exactly_the_topics_given(idle_container: Container) -> None:
    """The filter is sent as one text[] literal (built once per topic set): quotes, backslashes, commas
    and braces in a topic survive it, and it selects exactly the events of the topics named."""
    awkward = frozenset({'a"b', "c\\d", "e,f", "{g}", "h i", "bondflow.domain.orders:Order.Placed"})
    with idle_container.db.cursor() as cur:
        row = cur.execute("SELECT %s::text[]", (topic_array(awkward),)).fetchone()
    assert row is not None and set(row[0]) == awkward
    write_orders(idle_container, 3)
    wanted = frozenset({topic_of(Order.OrderPlaced)})
    rows, _ = select_after(idle_container.store, 0, wanted | awkward, 1000)
    assert rows and {r[TOPIC] for r in rows} == wanted


class LingeringOrders(OrdersProjector):
    """The orders view, asking its runner to wait after each batch (as the ClickHouse followers do)."""

    linger_seconds = 0.6

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.batches: list[int] = []

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        if events:
            self.batches.append(len(events))
        super().process(events, upto)


def test_a_lingering_follower_takes_commits_made_meanwhile_in_one_batch(idle_container: Container) -> None:
    """A follower with `linger_seconds` waits that long after each batch: commits arriving one by one
    meanwhile reach it as one batch, not one batch each (fewer ClickHouse parts under load)."""
    follower = LingeringOrders(idle_container.db)
    runner = FollowerRunner(follower, idle_container.store, idle_container.db)
    assert runner.linger == 0.6
    assert idle_container.followers["settlement_saga"].linger == 0  # on the way to FILLED: never waits
    runner.start()
    try:
        first = write_orders(idle_container, 1)
        assert wait_for_position(runner.position, first, timeout=30)
        last = first
        for _ in range(8):  # eight commits, 50 ms apart: all within the runner's linger after the first
            last = write_orders(idle_container, 1)
            time.sleep(0.05)
        assert wait_for_position(runner.position, last, timeout=30)
    finally:
        runner.stop()
    assert sum(follower.batches) == 18  # every event, 2 per order
    assert len(follower.batches) <= 3, follower.batches  # the first order, then the eight in one or two


def listening_backends(container: Container) -> int:
    with container.db.cursor() as cur:
        row = cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN %%'"
        ).fetchone()
    return int(row[0]) if row else 0


def test_the_listen_connection_closes_when_the_last_follower_stops(idle_container: Container) -> None:
    """Not at the listener's next poll: a database dropped just after the stop would otherwise kill that
    connection under it (and the listener would log the loss and retry)."""
    reader = LogReader(idle_container.store, idle_container.db, batch_size=500)
    group = runners(idle_container, reader, 500)
    for runner in group:
        runner.start()
    deadline = time.monotonic() + 10
    while listening_backends(idle_container) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert listening_backends(idle_container) == 1
    listener = reader._listener
    assert listener is not None
    for runner in group[:-1]:
        runner.stop()
    assert listener.is_alive()  # one follower still follows
    started = time.monotonic()
    group[-1].stop()
    assert not listener.is_alive()
    assert time.monotonic() - started < 0.5 * POLL_SECONDS
    assert listening_backends(idle_container) == 0


def test_a_follower_whose_topics_do_not_come_up_is_not_woken_by_every_read(idle_container: Container) -> None:
    """Commits one by one: the listener reads each (a follower is waiting), but the follower with other
    topics is woken only every `LAZY_WAKE_SECONDS` or so, not once per read; it still ends at the head."""
    store, db = idle_container.store, idle_container.db
    reader = LogReader(store, db, batch_size=500)
    order_topics = frozenset(topic_of(cls) for cls in (Order.OrderPlaced, Order.OrderAccepted))
    other_topics = frozenset({"tests.elsewhere:Nothing.Happened"})
    reader.subscribe(1, order_topics)
    reader.subscribe(2, other_topics)
    stop, woken, reached = threading.Event(), [0], [store.head_position()]

    def idle_follower() -> None:
        after = reached[0]
        while not stop.is_set():
            got = reader.read(after, other_topics, 100, 5.0, stopping=stop)
            if got is not None:
                woken[0] += 1
                assert got[0] == []
                after = reached[0] = got[1]

    thread = threading.Thread(target=idle_follower)
    thread.start()
    try:
        time.sleep(0.3)  # the window is set up and the follower waits
        reads, woken_before, started = reader.reads, woken[0], time.monotonic()
        for _ in range(60):
            write_orders(idle_container, 1)
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        head = store.head_position()
        assert wait_for_position(lambda: reached[0], head, timeout=5)
        reads, woken_during = reader.reads - reads, woken[0] - woken_before
    finally:
        stop.set()
        reader.wake()
        thread.join(10)
        reader.unsubscribe(1)
        reader.unsubscribe(2)
    assert reads >= 20, reads  # the commits were read one or a few at a time
    assert woken_during <= elapsed / LAZY_WAKE_SECONDS + 5, (woken_during, elapsed, reads)
    assert woken_during < reads / 2, (woken_during, reads)
