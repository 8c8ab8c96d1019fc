"""The regulator stream: dense seq and hash chain from the log, over HTTP, checkpoints, and verify."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from bondflow.audit.canonical import canonical_bytes
from bondflow.audit.chain import first_break
from bondflow.audit.verify import verify
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import decode
from bondflow.avro.publication import published_record
from bondflow.runtime.followers import FollowerRunner, wait_for_position
from bondflow.security.principal import Role
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from projections.regulator.stream import RegulatorStreamProjector, _bytea, _text
from tests.conftest import bearer, ledger_posted
from tests.integration.test_followers import write_orders

pytestmark = pytest.mark.integration


@pytest.fixture
def idle_container(settings: Settings) -> Iterator[Container]:
    built = bootstrap(settings)
    yield built
    built.close()


def stream_rows(container: Container) -> list[tuple[int, bytes, bytes]]:
    with container.db.cursor() as cur:
        rows = cur.execute("SELECT seq, body, hash FROM regulator_stream ORDER BY seq").fetchall()
    return [(int(s), bytes(b), bytes(h)) for s, b, h in rows]


def run_relay(container: Container, checkpoint_every: int = 1000) -> RegulatorStreamProjector:
    projector = RegulatorStreamProjector(container.db, container.signing_key.sign, checkpoint_every)
    runner = FollowerRunner(projector, container.store, container.db, batch_size=97)
    runner.start()
    try:
        assert wait_for_position(projector.position, container.store.head_position(), timeout=30)
    finally:
        runner.stop()
    return projector


def test_every_event_gets_a_dense_seq_and_a_valid_chain(client: TestClient, container: Container) -> None:
    headers = bearer(container, sub="alice")
    placed = [
        client.post(
            "/v1/orders",
            json={"isin": "INE123A07043", "side": "BUY", "qty": "1.25"},
            headers={**headers, "Idempotency-Key": f"k{i}"},
        ).json()
        for i in range(3)
    ]
    client.post(f"/v1/orders/{placed[0]['data']['order_id']}/cancel", headers=headers)
    ledger_posted(container)  # the journal entries of the reservations are part of the log too
    projector = container.followers["regulator_stream"].follower
    assert wait_for_position(projector.position, container.store.head_position(), timeout=10)
    rows = stream_rows(container)
    assert [r[0] for r in rows] == list(range(1, container.store.head_position() + 1))  # every event, no gaps
    assert first_break(rows) is None
    records = [orjson.loads(r[1]) for r in rows]
    placed = next(r for r in records if r["topic"] == "order.placed.v1")
    assert placed["payload"]["qty"] == "1.250000"
    assert placed["actor_id"] == "alice"
    topics = [r["topic"] for r in records]
    assert topics.count("order.accepted.v1") == 3
    assert [t for t in topics if not t.startswith("ledger.")][-1] == "order.cancelled.v1"
    assert topics[-1] == "ledger.journal_entry_posted.v1"  # the cancel's release, posted after it
    assert "escrow.funds_reserved.v1" in topics and "instrument.listed.v1" in topics


def test_regulators_page_through_the_stream_and_follow_it_live(
    client: TestClient, container: Container
) -> None:
    headers = bearer(container, sub="alice")
    for i in range(3):
        client.post(
            "/v1/orders",
            json={"isin": "INE123A07043", "side": "SELL", "qty": 2},
            headers={**headers, "Idempotency-Key": f"k{i}"},
        )
    ledger_posted(container)
    projector = container.followers["regulator_stream"].follower
    assert wait_for_position(projector.position, container.store.head_position(), timeout=10)
    topics = {int(seq): orjson.loads(body)["topic"] for seq, body, _ in stream_rows(container)}
    regulator = bearer(container, Role.REGULATOR, "sebi")
    page = client.get("/v1/regulator/events", params={"after_seq": 2, "limit": 3}, headers=regulator).json()
    assert [e["seq"] for e in page["data"]] == [3, 4, 5]
    assert page["meta"]["next_after_seq"] == 5
    assert len(page["data"][0]["hash"]) == 64
    with client.stream(
        "GET",
        "/v1/regulator/events",
        params={"after_seq": 4, "limit": 2},
        headers={**regulator, "Accept": "text/event-stream"},
    ) as live:
        text = live.read().decode()
    assert live.headers["content-type"].startswith("text/event-stream")
    assert "id: 5\n" in text and "id: 6\n" in text and "id: 4\n" not in text
    assert f"event: {topics[5]}\n" in text and f"event: {topics[6]}\n" in text
    assert client.get("/v1/regulator/events", headers=headers).status_code == 403


def test_checkpoints_are_signed_merkle_roots_that_verify(idle_container: Container) -> None:
    write_orders(idle_container, 10)
    run_relay(idle_container, checkpoint_every=4)
    with idle_container.db.cursor() as cur:
        seqs = [r[0] for r in cur.execute("SELECT seq FROM regulator_checkpoints ORDER BY seq")]
    assert seqs == [4, 8, 12, 16, 20]
    report = verify(idle_container.db, idle_container.store, idle_container.signing_key.verify)
    assert report.ok, report.problem
    assert (report.events, report.checkpoints) == (20, 5)


def test_verify_names_the_seq_of_an_event_altered_in_postgres(idle_container: Container) -> None:
    write_orders(idle_container, 30)
    run_relay(idle_container, checkpoint_every=25)
    assert verify(idle_container.db, idle_container.store, idle_container.signing_key.verify).ok
    with idle_container.db.transaction() as cur:
        seq, position = cur.execute("SELECT seq, position FROM regulator_stream WHERE seq = 37").fetchone()
        state = bytes(
            cur.execute(
                "SELECT state FROM bondflow_events WHERE notification_id = %s", (position,)
            ).fetchone()[0]
        )
        index = state.index(b'"request_id"') + len(b'"request_id": "')  # flip one byte inside a value
        altered = state[:index] + bytes([state[index] ^ 0x01]) + state[index + 1 :]
        cur.execute("UPDATE bondflow_events SET state = %s WHERE notification_id = %s", (altered, position))
    report = verify(idle_container.db, idle_container.store, idle_container.signing_key.verify)
    assert not report.ok
    assert report.first_bad_seq == seq == 37
    assert "differs" in (report.problem or "") or "cannot be read" in (report.problem or "")


def test_verify_names_a_tampered_stream_hash(idle_container: Container) -> None:
    write_orders(idle_container, 5)
    run_relay(idle_container)
    with idle_container.db.transaction() as cur:
        cur.execute("UPDATE regulator_stream SET hash = %s WHERE seq = 4", (uuid.uuid4().bytes * 2,))
    report = verify(idle_container.db, idle_container.store, idle_container.signing_key.verify)
    assert report.first_bad_seq == 4


def test_each_row_holds_its_events_facts_as_written_by_copy(idle_container: Container) -> None:
    """The rows are written as COPY text built by hand: every column must read back as the event's own."""
    write_orders(idle_container, 40, cancel_every=7)
    run_relay(idle_container)
    events = {
        n.id: idle_container.store.mapper.to_domain_event(n)
        for n in idle_container.store.recorder.select_notifications(start=1, limit=1000)
    }
    by_fingerprint = {c.fingerprint: c for c in current_contracts().values()}
    with idle_container.db.cursor() as cur:
        rows = cur.execute(
            "SELECT position, event_id, topic, event_type, aggregate_id, recorded_at, body, avro"
            " FROM regulator_stream ORDER BY seq"
        ).fetchall()
    assert len(rows) == len(events)
    for position, event_id, topic, event_type, aggregate_id, recorded_at, body, avro in rows:
        record = published_record(events[position])
        assert (str(event_id), topic, event_type) == (
            record["event_id"],
            record["topic"],
            record["event_type"],
        )
        assert (aggregate_id, recorded_at) == (record["aggregate_id"], record["recorded_at"])
        assert bytes(body) == canonical_bytes(record)
        assert str(decode(bytes(avro), by_fingerprint)["event_id"]) == record["event_id"]


def test_copy_text_fields_escape_what_copy_would_read_as_syntax(idle_container: Container) -> None:
    awkward, raw = "a\\b\tc\nd\re\\N", b"\x00\\\t\n"
    line = "\t".join((_text(awkward), _bytea(raw), _bytea(None))) + "\n"
    with idle_container.db.transaction() as cur:
        cur.execute("CREATE TEMPORARY TABLE copy_probe (t text, b bytea, n bytea) ON COMMIT DROP")
        with cur.copy("COPY copy_probe (t, b, n) FROM STDIN") as copy:
            copy.write(line)
        row = cur.execute("SELECT t, b, n FROM copy_probe").fetchone()
    assert row is not None and (row[0], bytes(row[1]), row[2]) == (awkward, raw, None)
