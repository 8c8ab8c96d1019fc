"""One PAN, one verified account: `verified_pans` maps a PAN's keyed hash to the account verified with it.

A KYC verification claims the hash (the primary key settles a race between two accounts verified at once);
`kyc/start` with a PAN another account holds is refused at once (`409 BF-KYC-003`, the PAN never named).
Erasing the account releases its PAN.
"""

from __future__ import annotations

from uuid import UUID

from bondflow.adapters.postgres import Database

DDL = """
CREATE TABLE IF NOT EXISTS verified_pans (
    pan_hash text PRIMARY KEY,
    user_id uuid NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS verified_pans_user ON verified_pans (user_id)
"""


class VerifiedPans:
    def __init__(self, db: Database) -> None:
        self.db = db

    def setup(self) -> None:
        self.db.create_tables("verified_pans", DDL)

    def held_by_another(self, pan_hash: str, user_id: UUID) -> bool:
        with self.db.cursor() as cur:
            row = cur.execute("SELECT user_id FROM verified_pans WHERE pan_hash = %s", (pan_hash,)).fetchone()
        return row is not None and UUID(str(row[0])) != user_id

    def claim(self, pan_hash: str, user_id: UUID) -> bool:
        """Hold the PAN for `user_id`; False when another account holds it already."""
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO verified_pans (pan_hash, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (pan_hash, user_id),
            )
            row = cur.execute("SELECT user_id FROM verified_pans WHERE pan_hash = %s", (pan_hash,)).fetchone()
        return row is not None and UUID(str(row[0])) == user_id

    def release(self, user_id: UUID) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM verified_pans WHERE user_id = %s", (user_id,))
