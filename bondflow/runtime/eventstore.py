"""The one event store: every aggregate appends to one totally ordered PostgreSQL log (ARCHITECTURE §1)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent, Transcoding

from bondflow.runtime import tracing


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class TracingMapper(Mapper[UUID]):
    """Stores the writer's trace context on each event (tracing.TRACE_ATTRIBUTE), so followers continue it."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        tracing.stamp(domain_event)
        return super().to_stored_event(domain_event)


class EventStore(Application[UUID]):
    """The `eventsourcing` application whose recorder is the log; command handlers save through it."""

    name = "bondflow"
    is_snapshotting_enabled = False

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=TracingMapper)

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
