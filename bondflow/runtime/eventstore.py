"""The one event store: every aggregate appends to one totally ordered PostgreSQL log (ARCHITECTURE §1)."""

from __future__ import annotations

import contextlib
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProjectorFunction, Repository, project_aggregate
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, Transcoder
from eventsourcing.postgres import PostgresDatastore

from bondflow.runtime import tracing
from bondflow.runtime.aggregate_copy import copy_aggregate
from bondflow.runtime.read_together import reading_together, shared_read
from bondflow.runtime.transcoder import DateAsISO, FastJSONTranscoder


def _close_quietly(datastore: PostgresDatastore) -> None:
    """The library's `__del__` closes the pool with `contextlib.suppress`; a datastore still alive when the
    interpreter exits is collected after `contextlib` is torn down, and each one printed an ignored
    AttributeError traceback (hundreds of lines after a test run). Same close, minus that noise."""
    try:  # noqa: SIM105 - not contextlib.suppress: contextlib is what is gone at that point
        datastore.close()
    except Exception:  # noqa: S110 - only ever at interpreter exit: nothing is left to close into
        pass


PostgresDatastore.__del__ = _close_quietly  # type: ignore[method-assign]


class TracingMapper(Mapper[UUID]):
    """Stores the writer's trace context on each event (tracing.TRACE_ATTRIBUTE), so followers continue it."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        tracing.stamp(domain_event)
        return super().to_stored_event(domain_event)


class CheaplyCopyingRepository(Repository[UUID]):
    """The library's repository, copying aggregates out of its cache with `copy_aggregate` instead of
    `copy.deepcopy` (the same isolation, a fraction of the cost)."""

    def get(
        self,
        aggregate_id: UUID,
        *,
        version: int | None = None,
        projector_func: ProjectorFunction[Any, Any] = project_aggregate,
        fastforward_skipping: bool = False,
        deepcopy_from_cache: bool = True,
    ) -> Any:
        found = None
        if (
            version is None
            and self.cache is not None
            and self.fastforward
            and projector_func is project_aggregate
        ):
            found = shared_read(self, aggregate_id)  # read with the others of a `reading_together` scope
        if found is None:
            found = super().get(
                aggregate_id,
                version=version,
                projector_func=projector_func,
                fastforward_skipping=fastforward_skipping,
                deepcopy_from_cache=False,
            )
        from_cache = self.cache is not None and version is None
        return (
            copy_aggregate(found)
            if from_cache and deepcopy_from_cache and self.deepcopy_from_cache
            else found
        )


class EventStore(Application[UUID]):
    """The `eventsourcing` application whose recorder is the log; command handlers save through it."""

    name = "bondflow"
    is_snapshotting_enabled = False

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_repository(self) -> Repository[UUID]:
        library = super().construct_repository()
        repository = CheaplyCopyingRepository(
            event_store=library.event_store,
            snapshot_store=library.snapshot_store,
            fastforward=library.fastforward,
            fastforward_skipping=library.fastforward_skipping,
            deepcopy_from_cache=library.deepcopy_from_cache,
        )
        repository.cache = library.cache  # the library's cache as configured (AGGREGATE_CACHE_MAXSIZE)
        return repository

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON, read by `FastJSONTranscoder` (written exactly as the library writes it)."""
        transcoder = FastJSONTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=TracingMapper)

    def reading_together(self, *aggregate_ids: UUID) -> contextlib.AbstractContextManager[None]:
        """Within the block, these aggregates are read in one statement (`runtime.read_together`)."""
        return reading_together(aggregate_ids)

    def head_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    @property
    def listen_channel(self) -> str:
        return str(getattr(self.recorder, "channel_name", self.name))

    def save_and_position(self, *aggregates: Any) -> int:
        """Save the aggregates' new events in one transaction; return the log position of the last one."""
        recordings = self.save(*aggregates)
        return max(r.notification.id for r in recordings) if recordings else self.head_position()


def position_of(store: EventStore, originator_id: UUID, version: int) -> int | None:
    """The log position at which one aggregate version was recorded (for idempotent replays)."""
    recorder: Any = store.recorder
    table = recorder.events_table_name
    schema = recorder.datastore.schema
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute(
            f'SELECT notification_id FROM "{schema}"."{table}"'  # names come from the library, not input
            " WHERE originator_id = %s AND originator_version = %s",
            (originator_id, version),
        )
        row = curs.fetchone()
    return int(row["notification_id"]) if row else None
