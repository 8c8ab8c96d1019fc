"""The regulator stream in PostgreSQL: every published event with its dense `seq` and chain hash.

The relay assigns `seq` and `hash` in the same transaction as its position, so the numbering is gapless
and exactly once whatever crashes; Kafka publishing and the HTTP stream read from this table. Every
`CHECKPOINT_EVERY` events it also writes a signed Merkle checkpoint over all hashes so far.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from bondflow.adapters.postgres import Database
from bondflow.audit.canonical import canonical_bytes
from bondflow.audit.chain import GENESIS, link
from bondflow.audit.merkle import MerkleFrontier, checkpoint_message, merkle_root
from bondflow.audit.records import TOPICS
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import encode
from bondflow.avro.publication import published_record
from bondflow.runtime.followers import Positioned
from projections.base.postgres import PostgresProjector

CHECKPOINT_EVERY = 1000

DDL = """
CREATE TABLE IF NOT EXISTS regulator_stream (
    seq bigint PRIMARY KEY,
    position bigint NOT NULL UNIQUE,
    event_id uuid NOT NULL UNIQUE,
    topic text NOT NULL,
    event_type text NOT NULL,
    aggregate_id uuid NOT NULL,
    recorded_at timestamptz NOT NULL,
    body bytea NOT NULL,
    hash bytea NOT NULL,
    avro bytea
);
-- the record's Avro frame, encoded once here for the Kafka relay; rows chained before it was kept have none
ALTER TABLE regulator_stream ADD COLUMN IF NOT EXISTS avro bytea;
CREATE TABLE IF NOT EXISTS regulator_checkpoints (
    seq bigint PRIMARY KEY,
    merkle_root bytea NOT NULL,
    kid text NOT NULL,
    signature bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

Signer = Callable[[bytes], tuple[str, bytes]]


class RegulatorStreamProjector(PostgresProjector):
    name = "regulator_stream"
    # the checkpoints are left out: their `created_at` is the time of signing, never the same in a rebuild
    tables: ClassVar[dict[str, str]] = {"regulator_stream": "seq"}
    derived: ClassVar[dict[str, tuple[str, ...]]] = {"regulator_stream": ("avro",)}  # from the record
    topics = frozenset(TOPICS)
    ddl = DDL

    def __init__(
        self, db: Database, sign: Signer, checkpoint_every: int = CHECKPOINT_EVERY, *, frames: bool = True
    ) -> None:
        super().__init__(db)
        self.frames = frames  # keep each record's Avro frame for the relay (a rebuild to compare does not)
        self.sign = sign
        self.checkpoint_every = checkpoint_every
        self._frontier: MerkleFrontier | None = None  # the Merkle peaks over every hash so far (loaded once)
        self.contracts = current_contracts()

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        try:
            super().process(events, upto)
        except Exception:
            self._frontier = None  # the transaction rolled back: reload the hashes next time
            raise

    def apply_batch(self, cur: Any, events: Sequence[Positioned]) -> None:
        """Number and chain the batch, then write it with one COPY (and its checkpoints). Each row keeps the
        record's Avro frame too, encoded from the same record the hash covers, so the relay sends bytes."""
        row = cur.execute("SELECT seq, hash FROM regulator_stream ORDER BY seq DESC LIMIT 1").fetchone()
        seq, previous = (int(row[0]), bytes(row[1])) if row else (0, GENESIS)
        if self._frontier is None or self._frontier.count != seq:  # first use, or another copy led
            self._frontier = MerkleFrontier(
                [bytes(r[0]) for r in cur.execute("SELECT hash FROM regulator_stream ORDER BY seq")]
            )
        rows: list[tuple[Any, ...]] = []
        for item in events:
            record = published_record(item.event)
            body = canonical_bytes(record)
            seq += 1
            previous = link(previous, body)
            self._frontier.append(previous)
            rows.append(
                (
                    seq,
                    item.position,
                    record["event_id"],
                    record["topic"],
                    record["event_type"],
                    record["aggregate_id"],
                    record["recorded_at"],
                    body,
                    previous,
                    encode(record, self.contracts[record["topic"]]) if self.frames else None,
                )
            )
            if seq % self.checkpoint_every == 0:
                self._checkpoint(cur, seq)
        if rows:
            with cur.copy(
                "COPY regulator_stream (seq, position, event_id, topic, event_type, aggregate_id,"
                " recorded_at, body, hash, avro) FROM STDIN"
            ) as copy:
                for values in rows:
                    copy.write_row(values)

    def _checkpoint(self, cur: Any, seq: int) -> None:
        """Sign the Merkle root over the first `seq` hashes (the frontier stands at `seq` when called)."""
        root = self._frontier.root() if self._frontier is not None else merkle_root([])
        kid, signature = self.sign(checkpoint_message(seq, root))
        cur.execute(
            "INSERT INTO regulator_checkpoints (seq, merkle_root, kid, signature) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (seq) DO NOTHING",
            (seq, root, kid, signature),
        )
