"""The Kafka relay: publishes the regulator stream to the brief's topics with an idempotent producer.

It follows the log, waits until the regulator stream has chained the batch (so every record carries its
`seq`, `hash` and Avro frame, encoded once by the stream from the record the hash covers), and publishes
in `seq` order. Batches are in flight together (at most `IN_FLIGHT_BATCHES`): the relay sends a batch and
returns, and its settler thread records a batch's position only once every record of it, and of every
batch before it, is acknowledged by the broker. A crash or a failed send republishes from the last
recorded position: delivery is at least once, never reordered per key, and consumers dedupe on
`event_id` or `seq`. The position is a watermark the settler advances (`advance_position`), like the
effect workers'; `bondflow replay` never moves it.

Record key = aggregate id. Headers: `event_id`, `seq`, `hash`, `content-type`, `traceparent` (the
writer's trace when traced, else derived from the event id). Value = Avro single-object encoding.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from bondflow.adapters.kafka import (
    RecordBatchWriter,
    WrittenBatch,
    ensure_topics,
    idempotent_producer,
    partition_for,
    record_tail,
)
from bondflow.adapters.postgres import Database
from bondflow.audit.records import TOPICS
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import encode
from bondflow.avro.publication import published_record
from bondflow.runtime import positions, tracing
from bondflow.runtime.followers import Positioned, wait_for_position

log = logging.getLogger(__name__)

CONTENT_TYPE = b"application/vnd.apache.avro+binary; framing=single-object"
STREAM_WAIT_SECONDS = 30.0
IN_FLIGHT_BATCHES = 4  # batches sent but not yet acknowledged; the next one waits for the oldest
ACK_TIMEOUT_SECONDS = 60.0


class Chained(NamedTuple):
    """One event as the regulator stream chained it: what its Kafka record is made of, the text fields
    already as the bytes the record carries."""

    seq: int
    hash_hex: bytes
    topic: str
    event_id: bytes
    aggregate_id: bytes
    avro: bytes | None


class StreamNotReady(RuntimeError):
    """The regulator stream has not chained this batch yet; the runner retries it."""


class KafkaRelay:
    name = "kafka_relay"
    topics = frozenset(TOPICS)

    def __init__(
        self, db: Database, bootstrap_servers: str, *, partitions: int = 3, replication: int = 1
    ) -> None:
        self.db = db
        self.bootstrap_servers = bootstrap_servers
        self.partitions = partitions
        self.replication = replication
        self.contracts = current_contracts()
        self._producer: Any = None
        self._writer: RecordBatchWriter | None = None
        self._sent: queue.Queue[tuple[int, list[WrittenBatch]] | None] = queue.Queue()
        self._window = threading.BoundedSemaphore(IN_FLIGHT_BATCHES)
        self._settler: threading.Thread | None = None
        self._failure: Exception | None = None

    def setup(self) -> None:
        positions.ensure_table(self.db)
        ensure_topics(self.bootstrap_servers, TOPICS.values(), self.partitions, self.replication)

    def position(self) -> int:
        return positions.read_position(self.db, self.name)

    @property
    def producer(self) -> Any:
        if self._producer is None:
            self._producer = idempotent_producer(self.bootstrap_servers)
            self._writer = RecordBatchWriter(self._producer)
        return self._producer

    @property
    def writer(self) -> RecordBatchWriter:
        self.producer  # noqa: B018  # opened with the producer
        assert self._writer is not None
        return self._writer

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        """Send the batch and hand it to the settler; raises a failure of an earlier batch instead (the
        runner then reads the recorded position again and republishes from there)."""
        self._raise_failure()
        sent: list[WrittenBatch] = []
        if events:
            sent = self._send(events)
        self._window.acquire()  # at most IN_FLIGHT_BATCHES unacknowledged: wait for the oldest
        self._start_settler()
        self._sent.put((upto, sent))

    def _send(self, events: Sequence[Positioned]) -> list[WrittenBatch]:
        """Write the batch's records, one run per partition in log order; return the record batches written."""
        chained = self._chain_of(events[0].position, events[-1].position)
        record = self._record_traced if tracing.enabled() else self._record
        writer = self.writer
        partitions: dict[str, list[int]] = {}
        runs: dict[tuple[str, int], list[bytes]] = {}
        for item in events:
            row = chained[item.position]
            ordered = partitions.get(row.topic) or partitions.setdefault(
                row.topic, writer.partitions(row.topic)
            )
            partition = partition_for(row.aggregate_id, ordered)
            runs.setdefault((row.topic, partition), []).append(record(item.event, row))
        return [
            future
            for (topic, partition), run in runs.items()
            for future in writer.append(topic, partition, run)
        ]

    def drain(self) -> None:
        """Wait until every batch sent so far is acknowledged and recorded (or has failed)."""
        for _ in range(IN_FLIGHT_BATCHES):
            self._window.acquire()
        for _ in range(IN_FLIGHT_BATCHES):
            self._window.release()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            self.drain()  # the batches after the failure are skipped, never recorded
            failure, self._failure = self._failure, None
            raise failure

    def _start_settler(self) -> None:
        if self._settler is None or not self._settler.is_alive():
            self._settler = threading.Thread(target=self._settle, name=f"{self.name}-settler", daemon=True)
            self._settler.start()

    def _settle(self) -> None:
        """Record each batch's position once all its records are acknowledged, in the order sent."""
        while (item := self._sent.get()) is not None:
            upto, sent = item
            try:
                if self._failure is None:
                    for batch in sent:
                        batch.acknowledged(ACK_TIMEOUT_SECONDS)  # raises the batch's error
                    with self.db.transaction() as cur:
                        positions.advance_position(cur, self.name, upto)
            except Exception as exc:  # reported by the next `process`; nothing after it is recorded
                log.warning("relay: a batch up to %d was not acknowledged: %s", upto, exc)
                self._failure = exc
            finally:
                self._window.release()

    def _chain_of(self, first_position: int, last_position: int) -> dict[int, Chained]:
        stream_position = lambda: positions.read_position(self.db, "regulator_stream")  # noqa: E731
        if not wait_for_position(stream_position, last_position, STREAM_WAIT_SECONDS):
            raise StreamNotReady(f"regulator stream has not reached log position {last_position}")
        with self.db.cursor() as cur:
            rows = cur.execute(  # in binary: bytea and text come as they are, nothing parsed, no UUID objects
                "SELECT position, seq, convert_to(encode(hash, 'hex'), 'UTF8'), topic,"
                " convert_to(event_id::text, 'UTF8'), convert_to(aggregate_id::text, 'UTF8'), avro"
                " FROM regulator_stream WHERE position >= %s AND position <= %s",
                (first_position, last_position),
                binary=True,
            ).fetchall()
        return {row[0]: Chained(*row[1:]) for row in rows}

    def _record(self, event: Any, row: Chained, traceparent: bytes | None = None) -> bytes:
        """The event's Kafka record after its offset: key, Avro value and headers (`record_tail`)."""
        value = row.avro
        if value is None:  # chained before the stream kept frames: encode the record the stream hashed
            record = published_record(event)
            value = encode(record, self.contracts[record["topic"]])
        if traceparent is None:  # not traced: one derived from the event, stable across republishing
            traceparent = b"00-%s-%016x-01" % (row.event_id.replace(b"-", b""), row.seq)
        headers = (
            (b"event_id", row.event_id),
            (b"seq", b"%d" % row.seq),
            (b"hash", row.hash_hex),
            (b"content-type", CONTENT_TYPE),
            (b"traceparent", traceparent),
        )
        return record_tail(row.aggregate_id, value, headers)

    def _record_traced(self, event: Any, row: Chained) -> bytes:
        with tracing.continued(event, f"publish {row.topic}"):  # the writer's trace
            traceparent = tracing.current_traceparent()
            return self._record(event, row, None if traceparent is None else traceparent.encode())

    def close(self) -> None:
        if self._settler is not None and self._settler.is_alive():
            if self._producer is not None:
                self._producer.flush(timeout=10)
            self.drain()
            self._sent.put(None)
            self._settler.join(timeout=10)
        self._settler = None
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None
            self._writer = None
