"""The Kafka relay: publishes the regulator stream to the brief's topics with an idempotent producer.

It follows the log, waits until the regulator stream has chained the batch (so every record carries its
`seq` and `hash`), publishes in `seq` order, flushes, and only then records its position. A crash before
that point republishes from the last position: delivery is at least once, never reordered per key, and
consumers dedupe on `event_id` or `seq`.

Record key = aggregate id. Headers: `event_id`, `seq`, `hash`, `content-type`, `traceparent` (derived from
the event id, since a stored event keeps no trace context). Value = Avro single-object encoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
                seq, hashed = chained[item.position]
                self._send(item.event, seq, hashed)
            self.producer.flush(timeout=60)
        with self.db.transaction() as cur:
            positions.record_position(cur, self.name, upto)

    def _chain_of(self, last_position: int) -> dict[int, tuple[int, bytes]]:
        stream_position = lambda: positions.read_position(self.db, "regulator_stream")  # noqa: E731
        if not wait_for_position(stream_position, last_position, STREAM_WAIT_SECONDS):
            raise StreamNotReady(f"regulator stream has not reached log position {last_position}")
        with self.db.cursor() as cur:
            rows = cur.execute(
                "SELECT position, seq, hash FROM regulator_stream WHERE position > %s AND position <= %s",
                (self.position(), last_position),
            ).fetchall()
        return {int(p): (int(s), bytes(h)) for p, s, h in rows}

    def _send(self, event: Any, seq: int, hashed: bytes) -> None:
        record = published_record(event)  # the record the stream hashed (bondflow.avro.publication)
        event_id = record["event_id"]
        with tracing.continued(event, f"publish {record['topic']}"):  # the writer's trace, when traced
            traceparent = tracing.current_traceparent() or f"00-{event_id.replace('-', '')}-{seq:016x}-01"
            headers = [
                ("event_id", event_id.encode()),
                ("seq", str(seq).encode()),
                ("hash", hashed.hex().encode()),
                ("content-type", CONTENT_TYPE),
                ("traceparent", traceparent.encode()),
            ]
            self.producer.send(
                record["topic"],
                key=str(record["aggregate_id"]).encode(),
                value=encode(record, self.contracts[record["topic"]]),
                headers=headers,
            )

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None
