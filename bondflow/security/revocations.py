"""Token revocation: every token of a subject issued up to an instant is refused from then on.

One row per revoked subject (`token_revocations`), read by a primary-key lookup on every verification of
a BondFlow token, so a revocation (an erased account) holds at once in every API process.
"""

from __future__ import annotations

from datetime import datetime

from bondflow.adapters.postgres import Database

DDL = """
CREATE TABLE IF NOT EXISTS token_revocations (
    subject text PRIMARY KEY,
    revoked_before bigint NOT NULL,  -- unix seconds: tokens with iat <= this are refused
    revoked_at timestamptz NOT NULL DEFAULT now()
)
"""


class Revocations:
    def __init__(self, db: Database) -> None:
        self.db = db

    def setup(self) -> None:
        self.db.create_tables("token_revocations", DDL)

    def revoke(self, subject: str, issued_up_to: datetime) -> None:
        """Refuse every token of `subject` issued at or before `issued_up_to` (in whole seconds, as `iat`
        is: a token minted later in the same second is refused too)."""
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO token_revocations (subject, revoked_before) VALUES (%s, %s) "
                "ON CONFLICT (subject) DO UPDATE SET revoked_before = "
                "GREATEST(token_revocations.revoked_before, EXCLUDED.revoked_before), revoked_at = now()",
                (subject, int(issued_up_to.timestamp())),
            )

    def is_revoked(self, subject: str, issued_at: int) -> bool:
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT revoked_before FROM token_revocations WHERE subject = %s", (subject,)
            ).fetchone()
        return row is not None and issued_at <= int(row[0])
