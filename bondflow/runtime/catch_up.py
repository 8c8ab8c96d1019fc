"""Bring a follower to the head of the log from a one-off command (`bondflow reconcile`): when no process
leads it, run it here under its leader lock; when one does, wait for it."""

from __future__ import annotations

from bondflow.adapters.postgres import Database
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Follower, Positioned, wait_for_position


def catch_up(follower: Follower, store: EventStore, db: Database, *, timeout: float = 30.0) -> bool:
    """True once `follower` has processed the whole log as it stood when called."""
    head = store.head_position()
    follower.setup()
    with db.dedicated_connection() as lock:
        got = lock.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (f"follower:{follower.name}",)
        ).fetchone()
        if not (got and got[0]):  # a running server leads it
            return wait_for_position(follower.position, head, timeout)
        try:
            while follower.position() < head:
                _one_batch(follower, store)
        finally:
            lock.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (f"follower:{follower.name}",))
    return True


def _one_batch(follower: Follower, store: EventStore, size: int = 500) -> None:
    notifications = store.recorder.select_notifications(start=follower.position() + 1, limit=size)
    batch = [
        Positioned(store.mapper.to_domain_event(n), n.id) for n in notifications if n.topic in follower.topics
    ]
    follower.process(batch, notifications[-1].id)
