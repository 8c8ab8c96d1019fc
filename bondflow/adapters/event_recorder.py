"""The log's recorder: the library's Postgres application recorder, with the table lock held for one trip
to the server instead of two.

The library serialises inserts with `LOCK TABLE … IN EXCLUSIVE MODE` (ARCHITECTURE §5) and sends, in one
pipeline, BEGIN, the lock, the NOTIFY and the INSERT; it then waits for the results and only afterwards
sends COMMIT. The lock is therefore held across the client's reading of the results, which in a busy
Python process includes waiting for the GIL: under load most of the log's writers queue on the lock
behind a holder that is "idle in transaction". Here COMMIT is queued in the same pipeline, so the server
commits (and releases the lock) as soon as the INSERT is done, whatever the client is doing. The
statements, their order and the lock are the library's; only the round trip moves. A failed INSERT
(a version conflict, an idempotency collision) aborts the pipeline before COMMIT: the transaction is rolled
back and the error raised as the library raises it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import InterfaceError, OperationalError
from psycopg.errors import PipelineAborted
from psycopg.pq import TransactionStatus


class OneTripRecorder(PostgresApplicationRecorder):
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if self.datastore.enable_db_functions or not stored_events:
            inserted: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return inserted
        failed: Exception | None = None
        ids: Sequence[int] | None = None
        with self.datastore.get_connection() as conn:
            try:
                try:
                    with conn.pipeline() as pipeline:
                        with conn.cursor() as control:
                            control.execute("BEGIN")
                        with conn.cursor() as curs:
                            try:
                                self._insert_stored_events(
                                    curs, stored_events, **kwargs
                                )  # lock, notify, insert
                                with conn.cursor() as control:
                                    control.execute("COMMIT")
                                pipeline.sync()
                                ids = self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
                            except (
                                Exception
                            ) as error:  # raised once the pipeline is closed, as the library does
                                failed = error
                except PipelineAborted:  # the COMMIT queued behind the failed INSERT was skipped
                    if failed is None:
                        raise
                if failed is not None:
                    raise failed
            finally:
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.execute("ROLLBACK")  # the pipeline aborted before its COMMIT
        return ids
