"""The regulator stream in PostgreSQL: every published event with its dense `seq` and chain hash.

The relay assigns `seq` and `hash` in the same transaction as its position, so the numbering is gapless
and exactly once whatever crashes; Kafka publishing and the HTTP stream read from this table. Every
`CHECKPOINT_EVERY` events it also writes a signed Merkle checkpoint over all hashes so far.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from bondflow.adapters.postgres import Database
from bondflow.audit.canonical import bytes_of, canonical_form
from bondflow.audit.chain import GENESIS, link
from bondflow.audit.merkle import MerkleFrontier, checkpoint_message, merkle_root
from bondflow.audit.records import TOPICS
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import encode
from bondflow.avro.publication import published_record
from bondflow.avro.stored_publication import stored_canonical_form
from bondflow.runtime.followers import Positioned
from bondflow.runtime.log_reader import Undecoded
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
    # only guards against a duplicate: a rebuild adds them back once loaded (bondflow.wiring.replay_bulk_load)
    reads_undecoded: ClassVar[bool] = True  # a rebuild may hand it stored events as read (`_form`)
    built_after_load: ClassVar[tuple[str, ...]] = (
        "regulator_stream_event_id_key",
        "regulator_stream_position_key",
    )
    topics = frozenset(TOPICS)
    ddl = DDL
    # regulators read it as it is (and its signed checkpoints are never signed the same twice): each batch
    # waits for the disk, unlike the other read models
    durable_commits: ClassVar[bool] = True

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
        lines: list[str] = []
        for item in events:
            form, record = self._form(item.event)  # ids and times as the text the hash covers, as COPY takes
            body = bytes_of(form)
            seq += 1
            previous = link(previous, body)
            self._frontier.append(previous)
            frame = encode(record, self.contracts[record["topic"]]) if record is not None else None
            lines.append(
                f"{seq}\t{item.position}\t{form['event_id']}\t{_text(form['topic'])}\t"
                f"{_text(form['event_type'])}\t{form['aggregate_id']}\t{form['recorded_at']}\t"
                f"{_bytea(body)}\t{_bytea(previous)}\t{_bytea(frame)}\n"
            )
            if seq % self.checkpoint_every == 0:
                self._checkpoint(cur, seq)
        if lines:  # one COPY in text format, its lines written here rather than row by row by the driver
            with cur.copy(
                "COPY regulator_stream (seq, position, event_id, topic, event_type, aggregate_id,"
                " recorded_at, body, hash, avro) FROM STDIN"
            ) as copy:
                copy.write("".join(lines))

    def _form(self, event: Any) -> tuple[Any, dict[str, Any] | None]:
        """(the canonical form, the record when its Avro frame is kept): from the stored JSON itself when
        handed undecoded and no frame is kept, else from the decoded event."""
        if type(event) is Undecoded:
            if not self.frames:
                form = stored_canonical_form(
                    event.topic, event.originator_id, event.originator_version, event.state
                )
                if form is not None:
                    return form, None
            event = event.decode()
        record = published_record(event)
        return canonical_form(record), record if self.frames else None

    def _checkpoint(self, cur: Any, seq: int) -> None:
        """Sign the Merkle root over the first `seq` hashes (the frontier stands at `seq` when called)."""
        root = self._frontier.root() if self._frontier is not None else merkle_root([])
        kid, signature = self.sign(checkpoint_message(seq, root))
        cur.execute(
            "INSERT INTO regulator_checkpoints (seq, merkle_root, kid, signature) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (seq) DO NOTHING",
            (seq, root, kid, signature),
        )


# COPY's text format: a backslash starts an escape, a tab ends a field and a newline a row
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    """A text field of a COPY row (topics and type names never hold these characters; kept safe anyway)."""
    return (
        value.translate(_COPY_ESCAPES)
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value
        else value
    )


def _bytea(value: bytes | None) -> str:
    """A bytea field of a COPY row: hex input (`\\x…`), its backslash escaped for COPY; None is NULL."""
    return "\\N" if value is None else "\\\\x" + value.hex()
