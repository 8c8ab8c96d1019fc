"""Loading aggregates for commands: one place that turns a missing or foreign aggregate into an answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from bondflow.errors import BondFlowError

A = TypeVar("A", bound=Aggregate)


def load_or_none(repository: Any, aggregate_id: UUID, kind: type[A], version: int | None = None) -> A | None:
    """The aggregate, or None when no aggregate of that kind has that id (ids are namespaced by kind)."""
    try:
        found = repository.get(aggregate_id, version=version)
    except AggregateNotFoundError:
        return None
    return found if isinstance(found, kind) else None


def load(
    repository: Any,
    aggregate_id: UUID,
    kind: type[A],
    missing: Callable[[], BondFlowError],
    version: int | None = None,
) -> A:
    """The aggregate, or the domain error `missing()` builds (a `NotFound` with the caller's details)."""
    found = load_or_none(repository, aggregate_id, kind, version)
    if found is None:
        raise missing()
    return found
