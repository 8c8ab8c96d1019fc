"""Where a sandbox provider keeps the webhooks it still has to deliver: a table in PostgreSQL (the sandbox
stands for the outside world, and a real provider does not forget its callbacks when one of its machines
dies). A row is written in the same transaction as the provider's own record of the request, is due after
the configured delay, and is claimed for a short lease while it is delivered, so a delivery interrupted by
a kill is made again by whichever process runs the provider next (at least once: BondFlow dedupes).

`WebhookPump` is the clock follower that delivers what is due; it runs under `TimerRunner`, whose leader
election makes one process at a time deliver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bondflow.adapters.postgres import Database

LEASE_SECONDS = 30.0  # longer than one delivery attempt (HTTP timeout 5 s)
KEEP_DONE_SECONDS = 86_400.0  # settled rows are kept a day (for tests and inspection), then pruned
PRUNE_EVERY = 200  # settling every 200th row prunes the old settled ones

DDL = """
CREATE TABLE IF NOT EXISTS sandbox_webhooks (
    id bigserial PRIMARY KEY,
    source text NOT NULL,
    body bytea NOT NULL,
    delay_seconds double precision NOT NULL,
    due_at timestamptz NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    last_status integer,
    done_at timestamptz
);
CREATE INDEX IF NOT EXISTS sandbox_webhooks_due ON sandbox_webhooks (source, due_at) WHERE done_at IS NULL;
"""


@dataclass(frozen=True, slots=True)
class DueWebhook:
    id: int
    body: bytes
    delay_seconds: float
    attempt: int  # 1 for the first delivery


class WebhookOutbox:
    """One source's (`payments`, `kyc`) pending webhooks. Due times follow PostgreSQL's wall clock, shared
    by every process, not the injected business clock: the provider lives outside BondFlow."""

    def __init__(self, db: Database, source: str) -> None:
        self.db = db
        self.source = source

    def setup(self) -> None:
        self.db.create_tables("sandbox_webhooks", DDL)

    def schedule(self, cur: Any, delay_seconds: float, body: bytes) -> None:
        """Add a delivery due in `delay_seconds`, inside the caller's transaction `cur`."""
        cur.execute(
            "INSERT INTO sandbox_webhooks (source, body, delay_seconds, due_at)"
            " VALUES (%s, %s, %s, clock_timestamp() + make_interval(secs => %s))",
            (self.source, body, delay_seconds, delay_seconds),
        )

    def claim_due(self, limit: int = 50) -> list[DueWebhook]:
        """Take up to `limit` due deliveries for `LEASE_SECONDS`; a claim that is never settled (the
        process died) becomes due again when its lease runs out."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                "UPDATE sandbox_webhooks SET attempts = attempts + 1,"
                " due_at = clock_timestamp() + make_interval(secs => %s)"
                " WHERE id IN (SELECT id FROM sandbox_webhooks WHERE source = %s AND done_at IS NULL"
                " AND due_at <= clock_timestamp() ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED)"
                " RETURNING id, body, delay_seconds, attempts",
                (LEASE_SECONDS, self.source, limit),
            ).fetchall()
        return [DueWebhook(int(i), bytes(b), float(d), int(a)) for i, b, d, a in sorted(rows)]

    def delivered(self, webhook: DueWebhook, status: int) -> None:
        self._settle(webhook, status, None)

    def give_up(self, webhook: DueWebhook, status: int) -> None:
        """No more attempts: BondFlow learns the outcome by asking the provider (status query)."""
        self._settle(webhook, status, None)

    def retry_in(self, webhook: DueWebhook, status: int, seconds: float) -> None:
        self._settle(webhook, status, seconds)

    def pending(self) -> int:
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT count(*) FROM sandbox_webhooks WHERE source = %s AND done_at IS NULL", (self.source,)
            ).fetchone()
        return int(row[0]) if row else 0

    def _settle(self, webhook: DueWebhook, status: int, retry_in: float | None) -> None:
        with self.db.transaction() as cur:
            if retry_in is None:
                cur.execute(
                    "UPDATE sandbox_webhooks SET last_status = %s, done_at = clock_timestamp() WHERE id = %s",
                    (status, webhook.id),
                )
                if webhook.id % PRUNE_EVERY == 0:
                    cur.execute(
                        "DELETE FROM sandbox_webhooks WHERE source = %s"
                        " AND done_at < clock_timestamp() - make_interval(secs => %s)",
                        (self.source, KEEP_DONE_SECONDS),
                    )
            else:
                cur.execute(
                    "UPDATE sandbox_webhooks SET last_status = %s,"
                    " due_at = clock_timestamp() + make_interval(secs => %s) WHERE id = %s",
                    (status, retry_in, webhook.id),
                )


class Pumped(Protocol):
    def deliver_due(self) -> int: ...


class WebhookPump:
    """A follower of the clock (no topics): each tick delivers what the sender has due."""

    topics: frozenset[str] = frozenset()
    tick_seconds = 0.1  # a delivery is made at most this long after it is due

    def __init__(
        self, name: str, sender: Pumped, outbox: WebhookOutbox, head_position: Callable[[], int]
    ) -> None:
        self.name = name
        self.sender = sender
        self.outbox = outbox
        self.head_position = head_position

    def setup(self) -> None:
        self.outbox.setup()

    def position(self) -> int:
        return self.head_position()  # nothing to follow in the log: it never lags

    def process(self, events: Any, upto: int) -> None:
        """Nothing to follow (topics is empty)."""

    def tick(self, conn: Any = None) -> int:
        if conn is not None and not _anything_due(conn, self.outbox.source):
            return 0  # an idle tick asks on the runner's own connection, not the shared pool
        return self.sender.deliver_due()


def _anything_due(conn: Any, source: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM sandbox_webhooks WHERE source = %s AND done_at IS NULL"
        " AND due_at <= clock_timestamp())",
        (source,),
    ).fetchone()
    return bool(row and row[0])
