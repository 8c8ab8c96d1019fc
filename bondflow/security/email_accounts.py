"""Which account an email belongs to: `email_accounts` maps the email's keyed hash to the user id.

Sign-up claims the hash (the primary key settles a race between two sign-ups); erasing the account drops
the row, so the email is free for a new sign-up, which gets a new user id. Accounts registered before this
table existed have the id derived from the hash (`user_id_for`) and no row: `owner` falls back to them.
"""

from __future__ import annotations

from uuid import UUID

from bondflow.adapters.postgres import Database

DDL = """
CREATE TABLE IF NOT EXISTS email_accounts (
    email_hash text PRIMARY KEY,
    user_id uuid NOT NULL UNIQUE,
    claimed_at timestamptz NOT NULL DEFAULT now()
)
"""


class EmailAccounts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def setup(self) -> None:
        self.db.create_tables("email_accounts", DDL)

    def owner(self, email_hash: str) -> UUID | None:
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT user_id FROM email_accounts WHERE email_hash = %s", (email_hash,)
            ).fetchone()
        return UUID(str(row[0])) if row else None

    def claim(self, email_hash: str, user_id: UUID) -> bool:
        """Record `user_id` as the owner of the email; False when another account holds it."""
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO email_accounts (email_hash, user_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (email_hash, user_id),
            )
            return cur.rowcount == 1

    def release(self, user_id: UUID) -> None:
        """Drop the account's email hash: the email no longer leads to it and may sign up again."""
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM email_accounts WHERE user_id = %s", (user_id,))
