"""The test suite's real Kafka broker (tests/support/kafka_broker.py) works with kafka-python.

These never skip: if the broker cannot be fetched or started, the `kafka_broker` fixture fails with
the reason and the tail of the broker log.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.support.kafka_broker import KafkaBroker

# The session-scoped `kafka_broker` fixture (a no-op if tests/conftest.py already registers the plugin).
# kafka-python is imported lazily below: the plugin imports it first with its import-time
# DeprecationWarnings silenced.
pytest_plugins = ("tests.support.kafka_broker",)

pytestmark = pytest.mark.kafka


def _topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def test_broker_is_on_loopback(kafka_broker: KafkaBroker) -> None:
    host, _, port = kafka_broker.bootstrap_servers.partition(":")
    assert host == "127.0.0.1"
    assert int(port) > 0
    admin = kafka_broker.admin(client_id="test-admin")
    try:
        cluster = admin.describe_cluster()
    finally:
        admin.close()
    assert [b["broker_id"] for b in cluster["brokers"]] == [1]
    assert cluster["cluster_id"] == kafka_broker.cluster_id


def test_admin_creates_topics(kafka_broker: KafkaBroker) -> None:
    from kafka.errors import TopicAlreadyExistsError

    plain, compacted = _topic("bf.test.plain"), _topic("bf.test.compacted")
    admin = kafka_broker.admin(client_id="test-admin")
    try:
        admin.create_topics(
            {
                plain: {"num_partitions": 3, "replication_factor": 1},
                compacted: {
                    "num_partitions": 1,
                    "replication_factor": 1,
                    "configs": {"cleanup.policy": "compact", "min.insync.replicas": "1"},
                },
            },
            wait_for_metadata=True,
        )
        assert {plain, compacted} <= set(admin.list_topics())
        described = {t["name"]: t for t in admin.describe_topics([plain, compacted])}
        assert len(described[plain]["partitions"]) == 3
        assert len(described[compacted]["partitions"]) == 1
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics({plain: {"num_partitions": 3, "replication_factor": 1}})
    finally:
        admin.close()


def test_idempotent_producer_keyed_messages_with_headers_read_back_in_order(
    kafka_broker: KafkaBroker,
) -> None:
    from kafka import TopicPartition

    topic = _topic("bf.test.events")
    admin = kafka_broker.admin(client_id="test-admin")
    try:
        admin.create_topics({topic: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True)
    finally:
        admin.close()

    keys = [f"aggregate-{i}".encode() for i in range(5)]
    sent: dict[bytes, list[tuple[bytes, list[tuple[str, bytes]]]]] = defaultdict(list)
    producer = kafka_broker.producer(
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        client_id="test-producer",
    )
    try:
        futures = []
        for seq in range(200):
            key = keys[seq % len(keys)]
            value = f"event-{seq}".encode()
            headers = [("event_id", uuid.uuid4().bytes), ("seq", str(seq).encode())]
            sent[key].append((value, headers))
            futures.append(producer.send(topic, key=key, value=value, headers=headers))
        producer.flush(timeout=30)
        metadata = [f.get(timeout=30) for f in futures]
    finally:
        producer.close(timeout=10)
    assert all(m.topic == topic for m in metadata)

    consumer = kafka_broker.consumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="test-consumer",
    )
    received: dict[bytes, list[tuple[bytes, list[tuple[str, bytes]]]]] = defaultdict(list)
    partitions_of_key: dict[bytes, set[int]] = defaultdict(set)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        total, deadline = 0, time.monotonic() + 30
        while total < 200 and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    received[record.key].append((record.value, list(record.headers)))
                    partitions_of_key[record.key].add(record.partition)
                    total += 1
    finally:
        consumer.close()

    assert total == 200, f"read {total} of 200 messages back"
    assert all(len(parts) == 1 for parts in partitions_of_key.values())
    assert dict(received) == dict(sent)  # same values and headers, in send order per key, no duplicates
