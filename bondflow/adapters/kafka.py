"""Kafka through `kafka-python`: an idempotent producer and topic creation for the regulator relay."""

from __future__ import annotations

import contextlib
import functools
import time
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

with warnings.catch_warnings():  # kafka-python 3.0 uses importlib.resources APIs deprecated on 3.11
    warnings.filterwarnings(
        "ignore", message=r"(read_text|open_text) is deprecated", category=DeprecationWarning
    )
    import kafka
    import kafka.admin
    import kafka.errors
    import kafka.partitioner
    import kafka.producer.producer_batch
    from kafka.partitioner.default import murmur2
    from kafka.producer.future import FutureRecordMetadata
    from kafka.record.default_records import DefaultRecordBatchBuilder
    from kafka.record.memory_records import MemoryRecordsBuilder

REMEMBERED_KEYS = 65_536
RECORD_PREFIX_MAX = 12  # a v2 record before its key: length and offset delta varints, attributes, timestamp 0


@functools.lru_cache(maxsize=REMEMBERED_KEYS)
def key_hash(key: bytes) -> int:
    """The Java client's hash of a record key: murmur2, made positive."""
    return int(murmur2(key)) & 0x7FFFFFFF


class KeyHashPartitioner(kafka.partitioner.Partitioner):  # type: ignore[misc]  # kafka-python is untyped
    """The Java client's (and kafka-python's) default placement of keyed records, `murmur2(key)` made
    positive, modulo the partition count, so every client puts an aggregate's records on one partition.

    The pure-Python murmur2 costs more than the rest of a send, and an aggregate's events come in runs, so
    each key's hash is remembered (an LRU of `REMEMBERED_KEYS`). Records without a key go where kafka-python
    puts them."""

    def __init__(self) -> None:
        self._unkeyed = kafka.partitioner.DefaultPartitioner()

    def partition(
        self, topic: str, key: Any, serialized_key: Any, value: Any, serialized_value: Any, cluster: Any
    ) -> int:
        partitions = cluster.partitions_for_topic(topic)
        if serialized_key is None or not partitions:
            return int(self._unkeyed.partition(topic, key, serialized_key, value, serialized_value, cluster))
        return partition_for(bytes(serialized_key), sorted(partitions))


def partition_for(key: bytes, ordered_partitions: Sequence[int]) -> int:
    """Where the Java client puts a keyed record: `murmur2(key)` made positive, modulo the partition count."""
    return int(ordered_partitions[key_hash(key) % len(ordered_partitions)])


def idempotent_producer(bootstrap_servers: str) -> Any:
    """acks=all, idempotence on, at most 5 in flight: retries never duplicate or reorder within a partition."""
    return kafka.KafkaProducer(
        bootstrap_servers=bootstrap_servers.split(","),
        enable_idempotence=True,
        acks="all",
        max_in_flight_requests_per_connection=5,
        retries=2**31 - 1,
        linger_ms=5,
        batch_size=256 * 1024,
        compression_type=None,
        partitioner=KeyHashPartitioner(),
        client_id="bondflow-relay",
    )


def ensure_topics(bootstrap_servers: str, topics: Iterable[str], partitions: int, replication: int) -> None:
    admin = kafka.KafkaAdminClient(bootstrap_servers=bootstrap_servers.split(","), client_id="bondflow-admin")
    try:
        existing = set(admin.list_topics())
        wanted = [
            kafka.admin.NewTopic(name=t, num_partitions=partitions, replication_factor=replication)
            for t in sorted(set(topics) - existing)
        ]
        if wanted:
            with contextlib.suppress(kafka.errors.TopicAlreadyExistsError):  # another copy created it first
                admin.create_topics(wanted)
    finally:
        admin.close()


def _zigzag_varint(value: int) -> bytes:
    """Kafka's signed varint (zigzag, then base-128 little-endian groups)."""
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL_VARINTS = tuple(_zigzag_varint(n) for n in range(1 << 13))  # every length a record field here has


def varint(value: int) -> bytes:
    return _SMALL_VARINTS[value] if 0 <= value < 8192 else _zigzag_varint(value)


class WrittenBatch(kafka.producer.producer_batch.ProducerBatch):  # type: ignore[misc]  # untyped
    """A batch `RecordBatchWriter` wrote whole. It has no future per record until kafka-python asks for them:
    when `send` appends a record to it, or when the broker refuses it as too large and the accumulator
    splits it, rebinding each record's future to the smaller batch that now carries the record."""

    def __init__(self, tp: Any, records: Any, count: int, timestamp: int) -> None:
        self._written = count
        self._timestamp = timestamp
        self._futures: list[Any] | None = None
        super().__init__(tp, records)

    @property
    def _record_futures(self) -> list[Any]:
        if self._futures is None:
            self._futures = [
                FutureRecordMetadata(self.produce_future, index, self._timestamp, None, -1, -1, -1)
                for index in range(self._written)
            ]
        return self._futures

    @_record_futures.setter
    def _record_futures(self, futures: list[Any]) -> None:  # ProducerBatch.__init__ sets []
        self._futures = futures or None

    def acknowledged(self, timeout: float) -> None:
        """Wait until the broker has acknowledged every record written; raise its or the producer's error."""
        deadline = time.monotonic() + timeout
        produced = self.produce_future
        if not produced.wait(timeout):
            raise kafka.errors.KafkaTimeoutError(f"batch not acknowledged within {timeout:.0f}s")
        if not produced.is_done:  # split: each record's future follows the batch it went to
            for future in self._record_futures[: self._written]:
                future.get(timeout=max(0.0, deadline - time.monotonic()))
            return
        if produced.failed():
            raise produced.exception
        _offset, _timestamp, record_errors = produced.value
        if record_errors is not None:
            raise record_errors(0)


class RecordBatchWriter:
    """Appends whole runs of already-encoded records to a kafka-python producer, one record batch per run.

    `KafkaProducer.send` spends about 40 µs per record in Python (checks, serialisers, size estimates, a
    partitioner call, a lock, a future per record, the record's varints one byte at a time). The relay
    knows its records' shape in advance, so it encodes each record (Kafka's v2 record format, KIP-98) in
    one join and hands the producer a finished `ProducerBatch` per partition and run, with one future per
    batch. Everything after that is kafka-python's own machinery unchanged: the accumulator's queue per
    partition, the idempotent producer's sequence numbers and epochs (stamped when the sender drains the
    batch), retries, the CRC-32C written when the batch is closed, acknowledgements.

    This reaches below kafka-python's public API (its accumulator and record batch builder), so the
    version is pinned in `pyproject.toml` and `tests/integration/test_kafka_relay.py` reads the records
    back with kafka-python's consumer and with the Java client."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer
        self._accumulator = producer._accumulator
        config = self._accumulator.config
        if config["message_version"] < 2 or config["compression_attrs"] != 0:
            raise ValueError("RecordBatchWriter writes uncompressed v2 record batches only")
        self.batch_size = int(config["batch_size"])
        self.max_request_size = int(producer.config["max_request_size"])
        self.overhead = DefaultRecordBatchBuilder.HEADER_STRUCT.size

    def partitions(self, topic: str) -> list[int]:
        """The topic's partitions, in order (the producer waits for the topic's metadata)."""
        return sorted(self.producer.partitions_for(topic))

    def append(self, topic: str, partition: int, bodies: Sequence[bytes]) -> list[WrittenBatch]:
        """Append records to one partition, in order; `bodies[i]` is record i's encoding after its
        attributes, timestamp delta and offset delta (key, value and headers, from `record_tail`).
        Returns every batch written; `WrittenBatch.acknowledged` waits for the broker."""
        if self.producer._closed:
            raise kafka.errors.IllegalStateError("KafkaProducer already closed!")
        largest_body = max(map(len, bodies), default=0)
        if self.overhead + RECORD_PREFIX_MAX + largest_body > self.max_request_size:  # as `send` refuses it
            raise kafka.errors.MessageSizeTooLargeError(
                f"a record of {largest_body} bytes is larger than max_request_size; nothing was queued"
            )
        if partition not in self.producer.partitions_for(
            topic
        ):  # and the sender now knows the topic's leaders
            raise kafka.errors.UnknownTopicOrPartitionError(f"{topic} has no partition {partition}")
        tp = kafka.TopicPartition(topic, partition)
        timestamp = int(time.time() * 1000)
        batches: list[WrittenBatch] = []
        start = 0
        while start < len(bodies):
            records = MemoryRecordsBuilder(2, 0, self.batch_size)
            builder = records._builder
            buffer = builder._buffer
            size = self.overhead
            offset = 0
            largest = 0
            for body in bodies[start:]:
                record = b"".join((b"\x00\x00", varint(offset), body))  # attributes 0, timestamp delta 0
                record = varint(len(record)) + record
                if offset and size + len(record) > self.batch_size:
                    break
                buffer += record
                size += len(record)
                largest = max(largest, len(record))
                offset += 1
            builder._first_timestamp = builder._max_timestamp = timestamp
            builder._num_records = offset
            builder._last_offset = offset - 1
            records._next_offset = offset
            batch = WrittenBatch(tp, records, offset, timestamp)
            batch.max_record_size = largest
            batches.append(self._enqueue(tp, batch))
            start += offset
        self.producer._sender.wakeup()
        return batches

    def _enqueue(self, tp: Any, batch: WrittenBatch) -> WrittenBatch:
        accumulator = self._accumulator
        accumulator._appends_in_progress.increment()
        try:
            with accumulator._tp_lock(tp):
                if accumulator._closed:
                    raise kafka.errors.IllegalStateError("RecordAccumulator is closed")
                accumulator._batches[tp].append(batch)
                accumulator._incomplete.add(batch)
        finally:
            accumulator._appends_in_progress.decrement()
        return batch


def record_tail(key: bytes, value: bytes, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
    """A record's key, value and headers in Kafka's v2 record format; header names are given as bytes."""
    parts = [varint(len(key)), key, varint(len(value)), value, varint(len(headers))]
    for name, content in headers:
        parts += (varint(len(name)), name, varint(len(content)), content)
    return b"".join(parts)
