"""One conflict policy for every command: decide on fresh state, save, and decide again on a collision.

Aggregates are saved with optimistic concurrency: two writers that loaded the same version collide on
the event store's unique `(originator_id, originator_version)` and the loser's transaction writes nothing.
The loser loads again and decides again (a refusal on the new state raises a domain error and records
nothing). After `ATTEMPTS` collisions in a row the command gives up with `409 BF-CONFLICT-001`
(`WriteConflict`, with `Retry-After`), which the client may send again unchanged: nothing was written.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from eventsourcing.persistence import IntegrityError

from bondflow.errors import WriteConflict

T = TypeVar("T")

ATTEMPTS = 8
_BACKOFF_SECONDS = 0.002  # doubled per collision, with jitter, so racing writers spread out


def decide_and_save(
    attempt: Callable[[], T],
    *,
    what: str,
    details: Mapping[str, object] | None = None,
    attempts: int = ATTEMPTS,
) -> T:
    """Run `attempt` (load, decide, save) until it saves without a collision; `WriteConflict` after
    `attempts` collisions. `what` names the thing that kept changing, for the error's message."""
    for tried in range(1, attempts + 1):
        try:
            return attempt()
        except IntegrityError:
            if tried == attempts:
                break
            time.sleep(_BACKOFF_SECONDS * (2 ** min(tried, 6)) * random.random())  # noqa: S311 - jitter, not a secret
    raise WriteConflict(f"{what} is changing concurrently; retry", dict(details or {}))
