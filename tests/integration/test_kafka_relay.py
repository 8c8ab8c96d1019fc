"""The Kafka relay against a real broker: schema-valid values on every topic, and exactly the log (after
deduplication, in order per key) across a relay killed mid-batch and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import decode
from bondflow.runtime.followers import FollowerRunner, wait_for_position
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from bondflow.wiring.replay import feed, pg_checksum
from projections.regulator.kafka_relay import CONTENT_TYPE, KafkaRelay
from projections.regulator.stream import RegulatorStreamProjector
from tests.integration.test_followers import write_orders
from tests.support.kafka_broker import KafkaBroker

pytestmark = [pytest.mark.integration, pytest.mark.kafka]


@pytest.fixture
def relay_settings(settings: Settings, kafka_broker: KafkaBroker) -> Settings:
    prefix = uuid.uuid4().hex[:6]
    return settings.model_copy(
        update={
            "kafka_bootstrap_servers": kafka_broker.bootstrap_servers,
            "clickhouse_database": f"k_{prefix}",
        }
    )


@pytest.fixture
def idle_container(relay_settings: Settings) -> Iterator[Container]:
    built = bootstrap(relay_settings)
    yield built
    built.close()


def consume_all(broker: KafkaBroker, ours: set[str], timeout: float = 60) -> list[Any]:
    """Every copy of the events in `ours` (event ids): other Kafka tests share the session's broker."""
    topics = sorted(current_contracts())
    consumer = broker.consumer(
        *topics,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        consumer_timeout_ms=1000,
    )
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for message in consumer:
                if dict(message.headers)["event_id"].decode() in ours:
                    messages.append(message)
            if len({dict(m.headers)["event_id"] for m in messages}) >= len(ours):
                break
    finally:
        consumer.close()
    return messages


def start_relay_worker(settings: Settings, tmp_path: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BONDFLOW_DATABASE_URL": str(settings.database_url),
        "BONDFLOW_DATA_DIR": str(tmp_path / f"w-{uuid.uuid4().hex[:6]}"),
        "BONDFLOW_CLICKHOUSE_DSN": f"chdb://{tmp_path / f'ch-{uuid.uuid4().hex[:6]}'}",
        "BONDFLOW_KAFKA_BOOTSTRAP_SERVERS": str(settings.kafka_bootstrap_servers),
        "BONDFLOW_FOLLOWER_BATCH_SIZE": "50",
        "BONDFLOW_LOG_LEVEL": "WARNING",
    }
    with open(tmp_path / "relay.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bondflow.cli", "worker", "kafka_relay"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def test_a_killed_relay_restarts_and_consumers_see_exactly_the_log_in_order_per_key(
    idle_container: Container, relay_settings: Settings, kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    head = write_orders(idle_container, 1500, cancel_every=5)  # 3300 events, 4 event types
    stream = FollowerRunner(
        RegulatorStreamProjector(idle_container.db, idle_container.signing_key.sign),
        idle_container.store,
        idle_container.db,
    )
    stream.start()
    relay = KafkaRelay(idle_container.db, str(relay_settings.kafka_bootstrap_servers))
    try:
        first = start_relay_worker(relay_settings, tmp_path)
        try:
            assert wait_for_position(relay.position, 1, timeout=90), (tmp_path / "relay.log").read_text()[
                -2000:
            ]
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        killed_at = relay.position()
        assert killed_at < head, "the relay finished before it could be killed mid-way"
        second = start_relay_worker(relay_settings, tmp_path)
        try:
            assert wait_for_position(relay.position, head, timeout=120), (tmp_path / "relay.log").read_text()[
                -2000:
            ]
        finally:
            second.terminate()
            second.wait(20)
    finally:
        stream.stop()

    with idle_container.db.cursor() as cur:
        ours = {str(e) for (e,) in cur.execute("SELECT event_id FROM regulator_stream")}
    assert len(ours) == head
    messages = consume_all(kafka_broker, ours)
    by_fingerprint = {c.fingerprint: c for c in current_contracts().values()}
    unique: dict[int, Any] = {}
    for message in messages:
        headers = dict(message.headers)
        seq = int(headers["seq"])
        value = decode(message.value, by_fingerprint)  # schema-valid, or this raises
        assert value["topic"] == message.topic
        assert str(value["event_id"]) == headers["event_id"].decode()
        assert message.key.decode() == str(value["aggregate_id"])
        assert headers["content-type"] == CONTENT_TYPE
        untraced = f"00-{str(value['event_id']).replace('-', '')}-{seq:016x}-01"  # nothing here is traced: derived from the event
        assert headers["traceparent"].decode() == untraced
        assert [k for k, _ in message.headers] == ["event_id", "seq", "hash", "content-type", "traceparent"]
        unique.setdefault(seq, (message, value))
    assert sorted(unique) == list(range(1, head + 1)), "the deduplicated stream is not exactly the log"
    assert {m.topic for m, _ in unique.values()} == {
        "order.placed.v1",
        "order.accepted.v1",
        "order.cancelled.v1",
    }

    # per key (aggregate), versions arrive in order in every partition, duplicates included
    seen_versions: dict[str, list[int]] = defaultdict(list)
    for message in sorted(messages, key=lambda m: (m.topic, m.partition, m.offset)):
        value = decode(message.value, by_fingerprint)
        seen_versions[f"{message.topic}:{value['aggregate_id']}"].append(value["aggregate_version"])
    for versions in seen_versions.values():
        assert versions == sorted(versions)
    with idle_container.db.cursor() as cur:
        chained = [
            (int(s), bytes(h).hex())
            for s, h in cur.execute("SELECT seq, hash FROM regulator_stream ORDER BY seq")
        ]
    assert all(dict(unique[s][0].headers)["hash"].decode() == h for s, h in chained)


def test_the_relay_sends_the_frames_the_stream_encoded_and_encodes_rows_chained_before_frames_were_kept(
    idle_container: Container, relay_settings: Settings, kafka_broker: KafkaBroker
) -> None:
    db, store = idle_container.db, idle_container.store
    head = write_orders(idle_container, 40)
    stream = RegulatorStreamProjector(db, idle_container.signing_key.sign)
    stream.setup()
    feed(store, [stream], head)
    with db.cursor() as cur:
        frames = {int(s): bytes(v) for s, v in cur.execute("SELECT seq, avro FROM regulator_stream")}
        ours = {str(e) for (e,) in cur.execute("SELECT event_id FROM regulator_stream")}
    before = pg_checksum(db, "regulator_stream", "seq", "public", ("avro",))
    with db.transaction() as cur:  # as a database chained before the stream kept frames has them
        cur.execute("UPDATE regulator_stream SET avro = NULL WHERE seq % 2 = 0")
    # the frame is derived: replay's checksum leaves it out, so such a database still compares equal
    assert pg_checksum(db, "regulator_stream", "seq", "public", ("avro",)) == before
    assert pg_checksum(db, "regulator_stream", "seq", "public") != before

    relay = KafkaRelay(db, str(relay_settings.kafka_bootstrap_servers))
    relay.setup()
    try:
        feed(store, [relay], head)
    finally:
        relay.close()
    messages = consume_all(kafka_broker, ours)
    sent = {int(dict(m.headers)["seq"]): m.value for m in messages}
    assert set(sent) == set(frames) and len(frames) == head
    assert all(sent[seq] == frame for seq, frame in frames.items()), (
        "a relayed value is not the stream's frame"
    )
