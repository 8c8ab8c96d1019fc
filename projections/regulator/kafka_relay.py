"""The Kafka relay: publishes the regulator stream to the brief's topics with an idempotent producer.

It follows the log, waits until the regulator stream has chained the batch (so every record carries its
`seq`, `hash` and Avro frame, encoded once by the stream from the record the hash covers), publishes in
`seq` order, flushes, and only then records its position. A crash before
that point republishes from the last position: delivery is at least once, never reordered per key, and
consumers dedupe on `event_id` or `seq`.

Record key = aggregate id. Headers: `event_id`, `seq`, `hash`, `content-type`, `traceparent` (derived from
the event id, since a stored event keeps no trace context). Value = Avro single-object encoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from bondflow.adapters.kafka import ensure_topics, idempotent_producer
from bondflow.adapters.postgres import Database
from bondflow.audit.records import TOPICS
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import encode
from bondflow.avro.publication import published_record
from bondflow.runtime import positions, tracing
from bondflow.runtime.followers import Positioned, wait_for_position

CONTENT_TYPE = b"application/vnd.apache.avro+binary; framing=single-object"
STREAM_WAIT_SECONDS = 30.0


class Chained(NamedTuple):
    """One event as the regulator stream chained it: what its Kafka record is made of."""

    seq: int
    hash: bytes
    topic: str
    event_id: str
    aggregate_id: str
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

    def setup(self) -> None:
        positions.ensure_table(self.db)
        ensure_topics(self.bootstrap_servers, TOPICS.values(), self.partitions, self.replication)

    def position(self) -> int:
        return positions.read_position(self.db, self.name)

    @property
    def producer(self) -> Any:
        if self._producer is None:
            self._producer = idempotent_producer(self.bootstrap_servers)
        return self._producer

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        if events:
            chained = self._chain_of(events[-1].position)
            for item in events:
                self._send(item.event, chained[item.position])
            self.producer.flush(timeout=60)
        with self.db.transaction() as cur:
            positions.record_position(cur, self.name, upto)

    def _chain_of(self, last_position: int) -> dict[int, Chained]:
        stream_position = lambda: positions.read_position(self.db, "regulator_stream")  # noqa: E731
        if not wait_for_position(stream_position, last_position, STREAM_WAIT_SECONDS):
            raise StreamNotReady(f"regulator stream has not reached log position {last_position}")
        with self.db.cursor() as cur:
            rows = cur.execute(
                "SELECT position, seq, hash, topic, event_id, aggregate_id, avro FROM regulator_stream"
                " WHERE position > %s AND position <= %s",
                (self.position(), last_position),
            ).fetchall()
        return {
            int(p): Chained(int(s), bytes(h), t, str(e), str(a), None if v is None else bytes(v))
            for p, s, h, t, e, a, v in rows
        }

    def _send(self, event: Any, row: Chained) -> None:
        value = row.avro
        if value is None:  # chained before the stream kept frames: encode the record the stream hashed
            record = published_record(event)
            value = encode(record, self.contracts[record["topic"]])
        with tracing.continued(event, f"publish {row.topic}"):  # the writer's trace, when traced
            traceparent = (
                tracing.current_traceparent() or f"00-{row.event_id.replace('-', '')}-{row.seq:016x}-01"
            )
            headers = [
                ("event_id", row.event_id.encode()),
                ("seq", str(row.seq).encode()),
                ("hash", row.hash.hex().encode()),
                ("content-type", CONTENT_TYPE),
                ("traceparent", traceparent.encode()),
            ]
            self.producer.send(row.topic, key=row.aggregate_id.encode(), value=value, headers=headers)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None
