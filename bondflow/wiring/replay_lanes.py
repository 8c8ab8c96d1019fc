"""How a rebuild hands its batches on: to read models in this process, each applying its batches in order in
its own thread (`Lanes`), or to read models in a process of their own (`ElsewhereLanes`).

A rebuild is Python-bound: one process with every read model keeps one core busy under the GIL, however
many threads it runs. Read models built in other processes take their share of the work to the other
core (`bondflow replay` runs two: the regulator stream, and every other PostgreSQL read model). That process is sent the stored rows of its read models' topics as they were read (the log is still
read once); it decodes them itself (or hands them on undecoded to read models that read stored JSON), feeds its read models through its own `Lanes`, and acknowledges each
batch, so at most `DEPTH` batches are ever on their way to it. Its read models keep their positions in
their own transactions, exactly as here, so where a read model runs changes nothing it writes.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, cast
from uuid import UUID, SafeUUID

from bondflow.adapters.postgres import Database
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Follower, Positioned
from bondflow.runtime.heap import fewer_young_collections
from bondflow.runtime.log_reader import ORIGINATOR_ID, TOPIC, decode, undecoded

AHEAD = 2  # batches handed to a read model beyond the one it is applying
DEPTH = 8  # batches on their way to another process, not yet acknowledged (a batch is ~1 MB of rows)

# Built in the other process from the replica database: a module-level function or a partial of one,
# so that it pickles.
Builder = Callable[[Database], Follower]


class Lanes:
    """Read models of this process, each fed its batches in order in its own thread. A read model is
    handed only batches that hold events for it; `finish` hands each what still waits for it and moves one
    not handed the last batch to the end in one empty batch, so its position still ends at the last event
    read."""

    def __init__(self, followers: Sequence[Follower]) -> None:
        self.followers = list(followers)
        self._threads = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"replay-{f.name}") for f in self.followers
        ]
        self._queued: list[deque[Future[None]]] = [deque() for _ in self.followers]
        self._handed = [0] * len(self.followers)
        # a read model that writes fewer, larger batches faster (`rebuild_batch_events`) is handed batches of
        # at least that many events: what it was not handed yet waits here
        self._at_least = [int(getattr(f, "rebuild_batch_events", 0)) for f in self.followers]
        self._pending: list[list[Positioned]] = [[] for _ in self.followers]

    def hand(self, decoded: Sequence[tuple[int, str, Positioned]], last: int) -> None:
        for index, follower in enumerate(self.followers):
            wanted = follower.topics
            batch = [item for _, topic, item in decoded if topic in wanted]
            if not batch:  # its position is written once, at the end, not once per batch it skips
                continue
            pending = self._pending[index]
            if pending or len(batch) < self._at_least[index]:
                pending.extend(batch)
                if len(pending) < self._at_least[index]:
                    continue
                batch, self._pending[index] = pending, []
            self._submit(index, batch, last)

    def finish(self, last: int) -> None:
        for index in range(len(self.followers)):
            if self._pending[index]:
                batch, self._pending[index] = self._pending[index], []
                self._submit(index, batch, last)
            elif self._handed[index] < last:
                self._submit(index, [], last)
        for waiting in self._queued:
            while waiting:
                waiting.popleft().result()

    def close(self) -> None:
        for thread in self._threads:
            thread.shutdown(wait=True, cancel_futures=True)

    def _submit(self, index: int, batch: list[Positioned], last: int) -> None:
        waiting = self._queued[index]
        while len(waiting) >= AHEAD:
            waiting.popleft().result()
        waiting.append(self._threads[index].submit(self.followers[index].process, batch, last))
        self._handed[index] = last


class ElsewhereFailed(RuntimeError):
    """A read model in the other process failed; the message carries its traceback."""


class ElsewhereLanes:
    """Read models built and fed in a process of their own (spawned: nothing of this process's pools or
    threads is inherited)."""

    def __init__(
        self, builders: Sequence[Builder], topics: frozenset[str], store: EventStore, replica: Database
    ) -> None:
        self.topics = topics
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=serve,
            args=(list(builders), dict(store.env), replica.url, child),
            name="replay-elsewhere",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._unacknowledged = 0

    def hand(self, rows: Sequence[tuple[Any, ...]], last: int) -> None:
        """Send the rows of its topics (ids as bytes: a UUID pickles slowly)."""
        topics = self.topics
        mine = [
            (r[0], r[ORIGINATOR_ID].bytes, r[2], r[TOPIC], bytes(r[4])) for r in rows if r[TOPIC] in topics
        ]
        if not mine:
            return
        while self._unacknowledged >= DEPTH:
            self._answer()
        self._send(("batch", mine, last))
        self._unacknowledged += 1

    def _send(self, message: tuple[str, Any, int]) -> None:
        try:
            self._conn.send(message)
        except OSError:  # the other process is gone: its last word says why (its traceback, or its exit)
            while True:
                self._answer()

    def finish(self, last: int) -> None:
        self._send(("end", [], last))
        while self._answer() != "done":
            pass
        self._process.join(timeout=30)

    def close(self) -> None:
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=10)
        self._conn.close()

    def _answer(self) -> str:
        try:
            kind, detail = self._conn.recv()
        except EOFError:
            raise ElsewhereFailed(
                f"the process feeding read models elsewhere exited ({self._process.exitcode})"
            ) from None
        if kind == "error":
            raise ElsewhereFailed(f"a read model in another process failed:\n{detail}")
        self._unacknowledged -= kind == "ack"
        return str(kind)


def uuid_of(
    raw: bytes,
    new: Any = object.__new__,
    assign: Any = object.__setattr__,
    from_bytes: Any = int.from_bytes,
    unknown: SafeUUID = SafeUUID.unknown,
) -> UUID:
    """`UUID(bytes=raw)` built directly (its `__init__` checks every spelling of a UUID: 2.5x slower)."""
    value = new(UUID)
    assign(value, "int", from_bytes(raw, "big"))
    assign(value, "is_safe", unknown)
    return cast(UUID, value)


def serve(builders: Sequence[Builder], env: dict[str, str], replica_url: str, conn: Connection) -> None:
    """The other process: build the read models, then decode and apply each batch sent until the end."""
    with fewer_young_collections():  # a process of its own, doing batch work only (runtime/heap.py)
        _serve(builders, env, Database(replica_url, pool_size=4, name="replay-elsewhere"), conn)


def _serve(builders: Sequence[Builder], env: dict[str, str], replica: Database, conn: Connection) -> None:
    lanes: Lanes | None = None
    store: EventStore | None = None
    try:
        # it only decodes (no table to create: the log exists, and two such processes creating it at once
        # collide in PostgreSQL's catalog: "tuple concurrently updated")
        store = EventStore(
            env={**env, "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "1", "CREATE_TABLE": "no"}
        )
        replica.open()
        lanes = Lanes([build(replica) for build in builders])
        # read models that read the stored JSON themselves are handed it undecoded (the regulator stream
        # takes its canonical form from the text: decoding first was half its work)
        as_stored = all(getattr(f, "reads_undecoded", False) for f in lanes.followers)
        while True:
            kind, rows, last = conn.recv()
            if kind == "end":
                lanes.finish(last)
                conn.send(("done", None))
                return
            stored = [(r[0], uuid_of(r[1]), r[2], r[3], r[4]) for r in rows]
            lanes.hand(undecoded(store, stored) if as_stored else decode(store, stored), last)
            conn.send(("ack", None))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        if lanes is not None:
            lanes.close()
        if store is not None:
            store.close()
        replica.close()
        conn.close()
