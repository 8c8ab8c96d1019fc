"""The regulator stream in PostgreSQL: every published event with its dense `seq` and chain hash.

The relay assigns `seq` and `hash` in the same transaction as its position, so the numbering is gapless
and exactly once whatever crashes; Kafka publishing and the HTTP stream read from this table. Every
`CHECKPOINT_EVERY` events it also writes a signed Merkle checkpoint over all hashes so far.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.audit.canonical import canonical_bytes
from bondflow.audit.chain import GENESIS, link
from bondflow.audit.merkle import merkle_root
from bondflow.audit.records import TOPICS, record_of
from bondflow.followers import Positioned
from projections import positions

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
    hash bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS regulator_checkpoints (
    seq bigint PRIMARY KEY,
    merkle_root bytea NOT NULL,
    kid text NOT NULL,
    signature bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""

Signer = Callable[[bytes], tuple[str, bytes]]


def checkpoint_message(seq: int, root: bytes) -> bytes:
    """What a checkpoint signature covers."""
    return b"bondflow-checkpoint:" + str(seq).encode() + b":" + root.hex().encode()


class RegulatorStreamProjector:
    name = "regulator_stream"
    topics = frozenset(TOPICS)

    def __init__(self, db: Database, sign: Signer, checkpoint_every: int = CHECKPOINT_EVERY) -> None:
        self.db = db
        self.sign = sign
        self.checkpoint_every = checkpoint_every
        self._hashes: list[bytes] | None = None  # every chain hash so far, for checkpoints (loaded once)

    def setup(self) -> None:
        positions.ensure_table(self.db)
        with self.db.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended('ddl:regulator_stream', 0))")
            cur.execute(DDL)

    def position(self) -> int:
        return positions.read_position(self.db, self.name)

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        try:
            self._chain(events, upto)
        except Exception:
            self._hashes = None  # the transaction rolled back: reload the hashes next time
            raise

    def _chain(self, events: Sequence[Positioned], upto: int) -> None:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT seq, hash FROM regulator_stream ORDER BY seq DESC LIMIT 1").fetchone()
            seq, previous = (int(row[0]), bytes(row[1])) if row else (0, GENESIS)
            if self._hashes is None or len(self._hashes) != seq:  # first use, or another copy led meanwhile
                self._hashes = [
                    bytes(r[0]) for r in cur.execute("SELECT hash FROM regulator_stream ORDER BY seq")
                ]
            for item in events:
                record = record_of(item.event)
                body = canonical_bytes(record)
                seq += 1
                previous = link(previous, body)
                self._hashes.append(previous)
                cur.execute(
                    "INSERT INTO regulator_stream (seq, position, event_id, topic, event_type, aggregate_id,"
                    " recorded_at, body, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
                    ),
                )
                if seq % self.checkpoint_every == 0:
                    self._checkpoint(cur, seq)
            positions.record_position(cur, self.name, upto)

    def _checkpoint(self, cur: Any, seq: int) -> None:
        hashes = self._hashes[:seq] if self._hashes is not None else []
        root = merkle_root(hashes)
        kid, signature = self.sign(checkpoint_message(seq, root))
        cur.execute(
            "INSERT INTO regulator_checkpoints (seq, merkle_root, kid, signature) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (seq) DO NOTHING",
            (seq, root, kid, signature),
        )
