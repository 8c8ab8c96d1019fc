"""How many live streams each user has open, across every API process: leases in PostgreSQL.

Opening a stream takes a lease (a row with an expiry) if the user holds fewer unexpired leases than the
bound; the check and the insert run under a per-user transaction-level advisory lock, so two processes
opening streams for one user at once cannot both take the last lease. An open stream renews its lease now
and then; closing it deletes the lease. A process that dies leaves its leases to expire (`TTL_SECONDS`),
after which they no longer count. Users are stored only as keyed BLAKE2b digests.
"""

from __future__ import annotations

import hashlib
import uuid

from bondflow.adapters.postgres import Database
from bondflow.errors import RateLimited

DDL = """
CREATE TABLE IF NOT EXISTS live_stream_leases (
    lease_id uuid PRIMARY KEY,
    user_key text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS live_stream_leases_user ON live_stream_leases (user_key, expires_at);
"""

TTL_SECONDS = 45.0
RENEW_SECONDS = 15.0  # an open stream renews its lease this often (well inside the TTL)


class StreamLeases:
    def __init__(self, db: Database, key: bytes, bound: int) -> None:
        self.db = db
        self.key = key
        self.bound = bound

    def setup(self) -> None:
        self.db.create_tables("live_stream_leases", DDL)

    def _user_key(self, user_id: str) -> str:
        return hashlib.blake2b(user_id.encode(), key=self.key[:64], digest_size=16).hexdigest()

    def acquire(self, user_id: str) -> uuid.UUID:
        """A new lease for one of `user_id`'s streams, or `429 BF-RATE-001` past the bound."""
        user_key = self._user_key(user_id)
        lease_id = uuid.uuid4()
        with self.db.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"live:{user_key}",))
            cur.execute(
                "DELETE FROM live_stream_leases WHERE user_key = %s AND expires_at <= now()", (user_key,)
            )
            row = cur.execute(
                "SELECT count(*) FROM live_stream_leases WHERE user_key = %s", (user_key,)
            ).fetchone()
            if row is not None and int(row[0]) >= self.bound:
                raise RateLimited(
                    f"at most {self.bound} live streams per user", 5, {"streams_per_user": self.bound}
                )
            cur.execute(
                "INSERT INTO live_stream_leases (lease_id, user_key, expires_at)"
                " VALUES (%s, %s, now() + make_interval(secs => %s))",
                (lease_id, user_key, TTL_SECONDS),
            )
        return lease_id

    def renew(self, lease_id: uuid.UUID) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "UPDATE live_stream_leases SET expires_at = now() + make_interval(secs => %s)"
                " WHERE lease_id = %s",
                (TTL_SECONDS, lease_id),
            )

    def release(self, lease_id: uuid.UUID) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM live_stream_leases WHERE lease_id = %s", (lease_id,))
