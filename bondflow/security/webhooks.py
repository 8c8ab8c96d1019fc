"""Signed webhooks (API.md): `X-BF-Signature: v1=hex(HMAC-SHA256(secret, "{timestamp}.{nonce}.{raw body}"))`.

A delivery is accepted only when its timestamp is within 300 s of the injected clock, its signature matches
one of the configured secrets (a comma-separated list allows rotation; constant-time compare), and its
nonce has not been seen. Nonces are remembered in PostgreSQL, so a replay is refused by every process.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

from bondflow.adapters.postgres import Database
from bondflow.errors import WebhookRejected
from bondflow.runtime.clock import Clock

TOLERANCE_SECONDS = 300
_NONCE = re.compile(r"^[A-Za-z0-9._\-]{8,128}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")

DDL = """
CREATE TABLE IF NOT EXISTS webhook_nonces (
    source text NOT NULL,
    nonce text NOT NULL,
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (source, nonce)
)
"""


def signature(secret: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode() + b"." + nonce.encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """What a provider sends with `body`: timestamp, a fresh nonce and the signature over both."""
    nonce = secrets.token_urlsafe(18)
    return {
        "X-BF-Timestamp": str(timestamp),
        "X-BF-Nonce": nonce,
        "X-BF-Signature": signature(secret, str(timestamp), nonce, body),
        "Content-Type": "application/json",
    }


class WebhookVerifier:
    def __init__(self, db: Database, clock: Clock, secrets_csv: str, source: str) -> None:
        self.db = db
        self.clock = clock
        self.secrets = [s.strip() for s in secrets_csv.split(",") if s.strip()]
        self.source = source

    def setup(self) -> None:
        self.db.create_tables("webhook_nonces", DDL)

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise `WebhookRejected` unless the delivery is fresh, authentic and seen for the first time."""
        timestamp = headers.get("x-bf-timestamp", "")
        nonce = headers.get("x-bf-nonce", "")
        given = headers.get("x-bf-signature", "")
        if not _TIMESTAMP.match(timestamp) or not _NONCE.match(nonce):
            raise WebhookRejected("webhook timestamp or nonce header is missing or malformed")
        now = self.clock.now()
        if abs(now.timestamp() - int(timestamp)) > TOLERANCE_SECONDS:
            raise WebhookRejected(
                "webhook timestamp is outside the accepted window", {"tolerance_seconds": TOLERANCE_SECONDS}
            )
        matched = False
        for secret in self.secrets:  # every secret is tried, so timing does not tell which one matched
            expected = signature(secret, timestamp, nonce, body)
            matched |= hmac.compare_digest(expected.encode(), given.encode())
        if not matched:
            raise WebhookRejected("webhook signature does not match")
        self._remember(nonce, now)

    def _remember(self, nonce: str, now: datetime) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "DELETE FROM webhook_nonces WHERE source = %s AND seen_at < %s",
                (self.source, now - timedelta(seconds=2 * TOLERANCE_SECONDS)),
            )
            cur.execute(
                "INSERT INTO webhook_nonces (source, nonce, seen_at) VALUES (%s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (self.source, nonce, now),
            )
            if cur.rowcount == 0:
                raise WebhookRejected("webhook nonce was already used")
