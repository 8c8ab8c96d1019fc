"""Read-your-writes: a query with `min_position` waits (bounded) until its read model has caught up.

`caught_up(read_model, ...)` is a route dependency naming every read model the route reads. It runs on the event loop, so a waiting request holds no
worker thread: a position beyond the head of the log is refused at once (`400 BF-QRY-002`), a position the
read model has reached passes at once, anything else parks in `bondflow.runtime.position_waits` for up to
`BONDFLOW_QUERY_WAIT_SECONDS` (then `503 BF-QRY-001` with `Retry-After`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from fastapi import Depends
from starlette.concurrency import run_in_threadpool

from bondflow.api.deps import ContainerDep, CurrentPrincipal, MinPosition
from bondflow.errors import PositionBeyondLog, ProjectionBehind
from bondflow.runtime.position_waits import WaitersExhausted
from bondflow.wiring.container import Container


def _reached_or_beyond(container: Container, follower: str, target: int) -> bool:
    """True when the read model is at `target`; raises when `target` is beyond the head of the log."""
    if container.followers[follower].follower.position() >= target:
        return True
    head = container.store.head_position()
    if target > head:
        container.metrics.query_waits.labels("beyond_log").inc()
        raise PositionBeyondLog(
            f"min_position {target} is beyond the head of the log ({head})",
            {"min_position": target, "head_position": head},
        )
    return False


async def await_position(
    container: Container, follower: str, min_position: int | None, *, timeout: float | None = None
) -> None:
    if min_position is None:
        return
    if await run_in_threadpool(_reached_or_beyond, container, follower, min_position):
        container.metrics.query_waits.labels("reached").inc()
        return
    details = {"min_position": min_position, "projection": follower}
    wait_seconds = container.settings.query_wait_seconds if timeout is None else max(timeout, 0.0)
    try:
        reached = await container.waits.wait(follower, min_position, wait_seconds)
    except WaitersExhausted as exc:
        container.metrics.query_waits.labels("busy").inc()
        raise ProjectionBehind(
            "too many queries are waiting for read models; retry shortly", details
        ) from exc
    if not reached:
        container.metrics.query_waits.labels("timeout").inc()
        raise ProjectionBehind(
            f"the {follower} read model has not reached position {min_position} yet", details
        )
    container.metrics.query_waits.labels("reached").inc()


def caught_up(*followers: str) -> Any:
    """A dependency (for a route's `dependencies=[...]`) that waits until every read model the route reads
    has reached `min_position`, within one `BONDFLOW_QUERY_WAIT_SECONDS` for all of them; it authenticates
    first, so anonymous callers cannot fill the bounded set of waiters."""
    if not followers:
        raise ValueError("caught_up needs the read models the route reads")

    async def wait_for_read_model(
        container: ContainerDep, _principal: CurrentPrincipal, min_position: MinPosition = None
    ) -> None:
        await await_positions(container, followers, min_position)

    return Depends(wait_for_read_model)


async def await_positions(container: Container, followers: Iterable[str], min_position: int | None) -> None:
    """Wait for each of `followers` to reach `min_position`, all within one query wait."""
    if min_position is None:
        return
    deadline = time.monotonic() + container.settings.query_wait_seconds
    for follower in followers:
        await await_position(container, follower, min_position, timeout=deadline - time.monotonic())
