"""The log's recorder sends a whole append as one message (`bondflow.adapters.event_recorder`): the
guarantees of the library's recorder hold — a tailing reader never skips a committed event while many
writers append at once, and a conflicting save raises IntegrityError, writes nothing and leaves the
connection usable — and a writer holds no lock while its client is still preparing the append."""

from __future__ import annotations

import threading
import uuid

import pytest
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, StoredEvent

from bondflow.adapters.event_recorder import OneTripRecorder
from bondflow.runtime.log_reader import POSITION, select_after
from bondflow.wiring.container import Container

pytestmark = pytest.mark.integration


class Probe(Aggregate):
    @event("Created")
    def __init__(self, n: int) -> None:
        self.n = n

    @event("Bumped")
    def bump(self) -> None:
        self.n += 1


PROBE_TOPICS = [f"{__name__}:Probe.Created", f"{__name__}:Probe.Bumped"]


def test_the_store_uses_the_one_trip_recorder(container: Container) -> None:
    assert isinstance(container.store.recorder, OneTripRecorder)


def test_a_tailing_reader_never_skips_an_event_while_writers_append_at_once(container: Container) -> None:
    store = container.store
    writers, saves = 8, 40
    done = threading.Event()
    seen: set[int] = set()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(saves):
                probe = Probe(0)
                probe.bump()
                store.save(probe)
        except BaseException as error:  # reported by the test
            failures.append(error)

    start = store.head_position()  # read before any writer starts: the tail must see every probe event

    def tail() -> None:
        after = start
        while True:
            finished = done.is_set()
            rows, upto = select_after(store, after, PROBE_TOPICS, 1000)
            seen.update(int(r[POSITION]) for r in rows)
            after = upto
            if finished and not rows:
                return

    reader = threading.Thread(target=tail)
    reader.start()
    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    done.set()
    reader.join(60)
    assert not failures
    with container.db.cursor() as cur:
        written = {
            int(r[0])
            for r in cur.execute(
                "SELECT notification_id FROM bondflow_events WHERE topic = ANY(%s)", (PROBE_TOPICS,)
            ).fetchall()
        }
    assert len(written) == writers * saves * 2
    assert written == seen  # the tail passed over nothing that committed behind it


def test_a_conflicting_save_raises_writes_nothing_and_leaves_the_connection_usable(
    container: Container,
) -> None:
    store = container.store
    probe = Probe(1)
    store.save(probe)
    first = store.repository.get(probe.id)
    first.bump()
    store.save(first)
    head = store.head_position()
    for _ in range(20):  # more than the pool holds: every connection it returned is clean
        stale = store.repository.get(probe.id, version=1)
        stale.bump()
        stale.bump()
        with pytest.raises(IntegrityError):
            store.save(stale)
    assert store.head_position() == head
    again = store.repository.get(probe.id)
    assert again.n == 2
    again.bump()
    store.save(again)
    assert store.repository.get(probe.id).version == 3


def test_the_table_lock_is_not_held_while_the_client_prepares_its_append(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer stalled while it builds its INSERT (a busy process waiting for the GIL) holds no lock yet:
    another writer takes the table lock meanwhile. Sent statement by statement, the lock was taken on the
    server before the INSERT's parameters were adapted, and every other append queued behind it."""
    store = container.store
    recorder = store.recorder
    assert isinstance(recorder, OneTripRecorder)
    building, release = threading.Event(), threading.Event()
    construct = recorder.construct_pg_stored_event

    def stalled(*args: object) -> object:
        building.set()
        release.wait(30)
        return construct(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(recorder, "construct_pg_stored_event", stalled)
    failures: list[BaseException] = []

    def append() -> None:
        try:
            store.save(Probe(7))
        except BaseException as error:  # reported by the test
            failures.append(error)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        assert building.wait(30), "the append never started building its rows"
        with container.db.transaction() as cur:
            cur.execute("SET LOCAL lock_timeout = '1s'")
            cur.execute(
                "LOCK TABLE bondflow_events IN EXCLUSIVE MODE"
            )  # times out if the stalled writer holds it
    finally:
        release.set()
        writer.join(30)
    assert not failures
    with container.db.cursor() as cur:
        found = cur.execute(
            "SELECT count(*) FROM bondflow_events WHERE topic = %s", (PROBE_TOPICS[0],)
        ).fetchone()
    assert found is not None and found[0] >= 1


def test_every_byte_and_quote_in_a_stored_event_survives_the_one_message_append(container: Container) -> None:
    """The INSERT's parameters are bound on the client as literals: state with every byte value (NUL,
    quotes, backslashes, braces, commas: what a record literal escapes) and a topic with quotes come back
    exactly."""
    recorder = container.store.recorder
    assert isinstance(recorder, OneTripRecorder)
    state = bytes(range(256)) + b"'\",\\{}()\x00" * 3
    topic = "tests.odd:Topic 'quoted' \"double\" {braced}, (paren)\\"
    originator = uuid.uuid4()
    events = [
        StoredEvent(originator, version, topic, state[version:] + state[:version]) for version in (1, 2)
    ]
    ids = recorder.insert_events(events)
    assert ids is not None and len(ids) == 2 and ids[1] == ids[0] + 1
    back = recorder.select_events(originator)
    assert [(e.originator_version, e.topic, e.state) for e in back] == [
        (e.originator_version, e.topic, e.state) for e in events
    ]
