"""`bondflow verify`: check the hash chain, each published event against the event store, and every
signed checkpoint, offline. Names the first bad `seq`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.audit.canonical import canonical_bytes
from bondflow.audit.chain import GENESIS, link
from bondflow.audit.merkle import checkpoint_message, merkle_root
from bondflow.audit.records import record_of
from bondflow.avro.publication import published_record
from bondflow.runtime.eventstore import EventStore

BATCH = 2000


@dataclass
class VerifyReport:
    events: int = 0
    checkpoints: int = 0
    first_bad_seq: int | None = None
    problem: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None and self.problem is None

    def fail(self, seq: int | None, problem: str) -> None:
        if self.ok:
            self.first_bad_seq, self.problem = seq, problem


def _stream_rows(db: Database) -> Iterator[tuple[int, int, bytes, bytes]]:
    after = 0
    while True:
        with db.cursor() as cur:
            rows = cur.execute(
                "SELECT seq, position, body, hash FROM regulator_stream WHERE seq > %s ORDER BY seq LIMIT %s",
                (after, BATCH),
            ).fetchall()
        if not rows:
            return
        for seq, position, body, hashed in rows:
            yield int(seq), int(position), bytes(body), bytes(hashed)
        after = int(rows[-1][0])


def _stored_canonical(store: EventStore, position: int, cache: dict[int, Any]) -> tuple[bytes, bytes]:
    """The event's canonical bytes as published now, and as chained before values were published at
    their contract's scale (an older stream may hold either; both derive from the stored event alone)."""
    if position not in cache:
        cache.clear()
        for notification in store.recorder.select_notifications(start=position, limit=BATCH):
            cache[notification.id] = notification
    found = cache.get(position)
    if found is None:
        raise LookupError(f"log position {position} is missing from the event store")
    event = store.mapper.to_domain_event(found)
    return canonical_bytes(published_record(event)), canonical_bytes(record_of(event))


def verify(
    db: Database,
    store: EventStore,
    verify_signature: Callable[[bytes, bytes], bool],
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    report = VerifyReport()
    previous = GENESIS
    expected = 1
    hashes: list[bytes] = []
    cache: dict[int, Any] = {}
    legacy = 0
    for seq, position, body, stored_hash in _stream_rows(db):
        if seq != expected:
            report.fail(expected, f"seq {expected} is missing (next is {seq})")
            break
        if link(previous, body) != stored_hash:
            report.fail(seq, "stream hash does not match its bytes and the previous hash")
            break
        try:
            published, as_stored = _stored_canonical(store, position, cache)
        except Exception as exc:  # an unreadable stored event is itself the finding
            report.fail(
                seq, f"stored event at log position {position} cannot be read: {type(exc).__name__}: {exc}"
            )
            break
        if body not in (published, as_stored):
            report.fail(seq, f"stored event at log position {position} differs from what was published")
            break
        if body != published:
            legacy += 1
        previous = stored_hash
        hashes.append(stored_hash)
        expected += 1
        report.events += 1
        if progress is not None and report.events % BATCH == 0:
            progress(report.events)
    if legacy:
        report.notes.append(
            f"{legacy} events were chained with more decimal places than their contract (before values were"
            " published at contract scale); their hashes cover those stored values"
        )
    if report.ok:
        _check_checkpoints(db, hashes, verify_signature, report)
    return report


def _check_checkpoints(
    db: Database, hashes: list[bytes], verify_signature: Callable[[bytes, bytes], bool], report: VerifyReport
) -> None:
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT seq, merkle_root, signature FROM regulator_checkpoints ORDER BY seq"
        ).fetchall()
    for raw_seq, raw_root, signature in rows:
        seq, root = int(raw_seq), bytes(raw_root)
        if seq > len(hashes):
            report.fail(seq, f"checkpoint at seq {seq} is beyond the end of the stream")
            return
        if merkle_root(hashes[:seq]) != root:
            report.fail(seq, f"checkpoint at seq {seq}: Merkle root does not match the chain")
            return
        if not verify_signature(checkpoint_message(seq, root), bytes(signature)):
            report.fail(seq, f"checkpoint at seq {seq}: signature does not verify")
            return
        report.checkpoints += 1
