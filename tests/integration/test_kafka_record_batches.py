"""`RecordBatchWriter` against a real broker: the record batches the relay writes itself (below
kafka-python's `send`) are read back byte for byte by kafka-python's consumer (CRC checked) and by the Java
client's `KafkaConsumer` from the broker's own kafka-clients jar, across every varint width, runs larger
than a batch, records larger than a batch, records `send` appends to the same partition in between, and a
record the broker refuses."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kafka
import kafka.errors
import pytest
from kafka.admin import NewTopic

from bondflow.adapters.kafka import (
    RecordBatchWriter,
    ensure_topics,
    idempotent_producer,
    partition_for,
    record_tail,
)
from tests.support.kafka_broker import KafkaBroker, ensure_jars, find_java

pytestmark = [pytest.mark.integration, pytest.mark.kafka]

PARTITIONS = 3

JAVA = """
import java.nio.file.*;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class ReadBack {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        props.put("check.crcs", "true");
        props.put("max.partition.fetch.bytes", "4194304");
        int partitions = Integer.parseInt(args[2]), expected = Integer.parseInt(args[3]);
        List<TopicPartition> assigned = new ArrayList<>();
        for (int p = 0; p < partitions; p++) assigned.add(new TopicPartition(args[1], p));
        HexFormat hex = HexFormat.of();
        StringBuilder out = new StringBuilder();
        int seen = 0;
        try (KafkaConsumer<byte[], byte[]> consumer =
                 new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.assign(assigned);
            consumer.seekToBeginning(assigned);
            long deadline = System.currentTimeMillis() + 60_000;
            while (seen < expected && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    StringBuilder headers = new StringBuilder();
                    for (Header h : r.headers()) {
                        headers.append(hex.formatHex(h.key().getBytes("UTF-8"))).append('=')
                               .append(hex.formatHex(h.value())).append(',');
                    }
                    String value = hex.formatHex(MessageDigest.getInstance("SHA-256").digest(r.value()));
                    out.append(r.partition()).append(' ').append(r.offset()).append(' ')
                       .append(hex.formatHex(r.key())).append(' ').append(value).append(' ')
                       .append(headers).append('\\n');
                    seen++;
                }
            }
        }
        Files.writeString(Path.of(args[4]), out.toString());
    }
}
"""

Record = tuple[bytes, bytes, tuple[tuple[bytes, bytes], ...]]


@pytest.fixture
def topic(kafka_broker: KafkaBroker) -> str:
    name = f"batches-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka_broker.bootstrap_servers, [name], PARTITIONS, 1)
    return name


@pytest.fixture
def producer(kafka_broker: KafkaBroker) -> Iterator[Any]:
    opened = idempotent_producer(kafka_broker.bootstrap_servers)
    yield opened
    opened.close(timeout=10)


def records() -> list[Record]:
    """Keys and values at every varint width a record field can take, empty ones included."""
    made: list[Record] = []
    for size in (0, 1, 63, 64, 127, 8191, 8192, 20_000, 300_000):  # 300 kB: larger than a batch
        key = str(uuid.uuid4()).encode()
        headers = (
            (b"event_id", key),
            (b"seq", b"%d" % len(made)),
            (b"empty", b""),
            ("ü".encode(), b"\x00\xff"),
        )
        made.append((key, os.urandom(size), headers))
    made.append((b"", b"v", ()))
    made.append((os.urandom(200), b"long key", ((b"k" * 70, os.urandom(9000)),)))
    for n in range(3000):  # one key's run, longer than a batch, plus many keys
        made.append(
            (b"one-key" if n % 2 else str(uuid.uuid4()).encode(), os.urandom(120), ((b"n", b"%d" % n),))
        )
    return made


def write(producer: Any, topic: str, given: list[Record]) -> list[int]:
    writer = RecordBatchWriter(producer)
    ordered = writer.partitions(topic)
    runs: dict[int, list[bytes]] = {}
    placed = []
    for key, value, headers in given:
        partition = partition_for(key, ordered)
        placed.append(partition)
        runs.setdefault(partition, []).append(record_tail(key, value, headers))
    batches = [b for partition, run in runs.items() for b in writer.append(topic, partition, run)]
    assert len(batches) > PARTITIONS, "no run was split over several batches"
    for batch in batches:
        batch.acknowledged(60)
    return placed


def line_of(partition: int, key: bytes, value: bytes, headers: Any) -> tuple[int, str, str, str]:
    listed = "".join(f"{bytes(k).hex()}={bytes(v).hex()}," for k, v in headers)
    return partition, key.hex(), hashlib.sha256(value).hexdigest(), listed


def kafka_python_lines(
    broker: KafkaBroker, topic: str, expected: int
) -> list[tuple[int, int, tuple[Any, ...]]]:
    consumer = broker.consumer(
        topic,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
        check_crcs=True,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    try:
        read = [
            (
                m.partition,
                m.offset,
                line_of(m.partition, m.key, m.value, [(k.encode(), v) for k, v in m.headers]),
            )
            for m in consumer
        ]
    finally:
        consumer.close()
    assert len(read) == expected, f"kafka-python read {len(read)} records, expected {expected}"
    return read


def java_lines(broker: KafkaBroker, topic: str, expected: int) -> list[tuple[int, int, tuple[Any, ...]]]:
    lib = ensure_jars()
    with tempfile.TemporaryDirectory(prefix="bf-readback-") as work:
        source, out = Path(work) / "ReadBack.java", Path(work) / "read.txt"
        source.write_text(JAVA)
        sizes = (str(PARTITIONS), str(expected), str(out))
        proc = subprocess.run(
            [find_java(), "-cp", f"{lib}/*", str(source), broker.bootstrap_servers, topic, *sizes],
            capture_output=True,
            text=True,
            check=False,
            timeout=180,
        )
        assert proc.returncode == 0, f"the Java consumer did not run:\n{proc.stderr[-3000:]}"
        lines = out.read_text().splitlines()
    read = []
    for text in lines:
        partition, offset, key, value, *headers = text.split(" ")
        read.append(
            (int(partition), int(offset), (int(partition), key, value, headers[0] if headers else ""))
        )
    assert len(read) == expected, f"the Java consumer read {len(read)} records, expected {expected}"
    return read


def per_partition(read: list[tuple[int, int, tuple[Any, ...]]]) -> dict[int, list[tuple[Any, ...]]]:
    by: dict[int, list[tuple[Any, ...]]] = {}
    for partition, _offset, line in sorted(read):
        by.setdefault(partition, []).append(line)
    return by


def test_written_batches_read_back_exactly_with_kafka_python_and_the_java_client(
    kafka_broker: KafkaBroker, producer: Any, topic: str
) -> None:
    given = records()
    placed = write(producer, topic, given)
    expected: dict[int, list[tuple[Any, ...]]] = {}
    for partition, (key, value, headers) in zip(placed, given, strict=True):
        expected.setdefault(partition, []).append(line_of(partition, key, value, headers))
    assert len(expected) == PARTITIONS
    assert per_partition(kafka_python_lines(kafka_broker, topic, len(given))) == expected
    assert per_partition(java_lines(kafka_broker, topic, len(given))) == expected


def test_send_and_written_batches_interleave_in_order_on_one_partition(
    kafka_broker: KafkaBroker, producer: Any, topic: str
) -> None:
    writer = RecordBatchWriter(producer)
    key = b"the-same-aggregate"
    partition = partition_for(key, writer.partitions(topic))
    batches = writer.append(topic, partition, [record_tail(key, b"%d" % n, ()) for n in range(3)])
    sent = [producer.send(topic, key=key, value=b"3"), producer.send(topic, key=key, value=b"4")]
    batches += writer.append(topic, partition, [record_tail(key, b"%d" % n, ()) for n in range(5, 8)])
    for batch in batches:
        batch.acknowledged(60)
    assert [f.get(timeout=60).partition for f in sent] == [partition, partition]
    consumer = kafka_broker.consumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=3000)
    try:
        values = [m.value for m in consumer if m.key == key]
    finally:
        consumer.close()
    assert values == [b"%d" % n for n in range(8)]


def topic_limited_to(broker: KafkaBroker, max_message_bytes: int) -> str:
    """A one-partition topic whose `max.message.bytes` is set below the producer's batch size."""
    topic = f"limited-{uuid.uuid4().hex[:8]}"
    admin = kafka.KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    try:
        admin.create_topics(
            [NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": str(max_message_bytes)})]
        )
    finally:
        admin.close()
    return topic


def test_a_record_larger_than_a_request_is_refused_before_it_is_queued(producer: Any, topic: str) -> None:
    writer = RecordBatchWriter(producer)
    with pytest.raises(kafka.errors.MessageSizeTooLargeError):  # as `send` refuses it
        writer.append(topic, 0, [record_tail(b"k", b"small", ()), record_tail(b"k", os.urandom(2 << 20), ())])
    assert not producer._accumulator.has_incomplete


def test_a_batch_the_topic_finds_too_large_is_split_and_every_record_acknowledged(
    kafka_broker: KafkaBroker, producer: Any
) -> None:
    topic = topic_limited_to(kafka_broker, 40_000)
    writer = RecordBatchWriter(producer)
    (batch,) = writer.append(
        topic, 0, [record_tail(b"k", b"%05d" % n + os.urandom(195), ()) for n in range(1000)]
    )
    batch.acknowledged(60)  # 210 kB refused as MESSAGE_TOO_LARGE, split by kafka-python until it fits
    consumer = kafka_broker.consumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=3000)
    try:
        values = [m.value[:5] for m in consumer]
    finally:
        consumer.close()
    assert values == [b"%05d" % n for n in range(1000)]


def test_a_record_the_topic_refuses_fails_its_batch(kafka_broker: KafkaBroker, producer: Any) -> None:
    topic = topic_limited_to(kafka_broker, 2_000)
    (batch,) = RecordBatchWriter(producer).append(topic, 0, [record_tail(b"k", os.urandom(5000), ())])
    with pytest.raises(kafka.errors.MessageSizeTooLargeError):
        batch.acknowledged(60)
