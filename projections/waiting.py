"""Read-your-writes: a query with `min_position` waits (bounded) until its read model has caught up."""

from __future__ import annotations

from bondflow.container import Container
from bondflow.errors import ProjectionBehind
from bondflow.followers import wait_for_position


def await_position(container: Container, follower: str, min_position: int | None) -> None:
    if min_position is None:
        return
    projector = container.followers[follower].follower
    if not wait_for_position(projector.position, min_position, container.settings.query_wait_seconds):
        raise ProjectionBehind(
            f"the {follower} read model has not reached position {min_position} yet",
            {"min_position": min_position, "projection": follower},
        )
