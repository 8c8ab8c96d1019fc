"""The KYC effect worker: follows `KycCase.Started`/`Restarted` and asks the provider to verify.

The PAN never enters the log. The start command leaves it, sealed with the investor's data key, in a
short-lived hand-off row keyed by the process token; this worker opens it, calls the provider with an
idempotency key derived from the event (a redelivered event starts nothing new at the provider), and
deletes the row. After that only the PAN's keyed hash and the provider's references remain. If the
investor erased their data in between, the row no longer opens and nothing is sent.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

import orjson

from bondflow.adapters.kyc_port import KycProvider, KycRequest
from bondflow.adapters.postgres import Database
from bondflow.domain.ids import derived_id
from bondflow.domain.kyc import KycCase, process_token_for
from bondflow.runtime.effect_follower import EffectFollower, topic_of
from bondflow.security.pii import DataKeyDestroyed, Vault

log = logging.getLogger(__name__)

HANDOFF_FIELD = "kyc_request"
STARTED = KycCase.Started
RESTARTED = KycCase.Restarted

DDL = """
CREATE TABLE IF NOT EXISTS kyc_handoff (
    process_token text PRIMARY KEY,
    user_id uuid NOT NULL,
    sealed text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


class KycHandoff:
    """Sealed PAN (and Aadhaar last four) waiting for the provider call; deleted once it is made."""

    def __init__(self, db: Database, vault: Vault) -> None:
        self.db = db
        self.vault = vault

    def setup(self) -> None:
        self.db.create_tables("kyc_handoff", DDL)

    def put(self, process_token: str, user_id: UUID, pan: str, aadhaar_last4: str | None) -> None:
        plain = orjson.dumps({"pan": pan, "aadhaar_last4": aadhaar_last4}).decode()
        sealed = self.vault.seal(user_id, HANDOFF_FIELD, plain)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO kyc_handoff (process_token, user_id, sealed) VALUES (%s, %s, %s)"
                " ON CONFLICT (process_token) DO UPDATE SET sealed = EXCLUDED.sealed",
                (process_token, user_id, sealed),
            )

    def request_for(self, process_token: str, idempotency_key: str) -> KycRequest | None:
        """The provider request for this token, or None when it was already sent or can no longer open."""
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT user_id, sealed FROM kyc_handoff WHERE process_token = %s", (process_token,)
            ).fetchone()
        if row is None:
            return None
        try:
            fields: dict[str, Any] = orjson.loads(self.vault.open(row[0], HANDOFF_FIELD, row[1]))
        except DataKeyDestroyed:
            self.forget(process_token)
            return None
        return KycRequest(process_token, str(fields["pan"]), fields.get("aadhaar_last4"), idempotency_key)

    def forget(self, process_token: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM kyc_handoff WHERE process_token = %s", (process_token,))

    def forget_user(self, user_id: UUID) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM kyc_handoff WHERE user_id = %s", (user_id,))


class KycEffectWorker(EffectFollower):
    name = "kyc_effects"
    topics = frozenset(topic_of(c) for c in (STARTED, RESTARTED))

    def __init__(self, db: Database, handoff: KycHandoff, provider: KycProvider) -> None:
        super().__init__(db)
        self.handoff = handoff
        self.provider = provider

    def handle(self, event: Any) -> None:
        self._start_verification(event)

    def _start_verification(self, event: Any) -> None:
        attempt = int(getattr(event, "attempt", 1))
        process_token = process_token_for(event.originator_id, attempt)
        key = str(derived_id("kyc-start", str(event.originator_id), str(event.originator_version)))
        request = self.handoff.request_for(process_token, key)
        if request is None:
            log.info("kyc start skipped: nothing to hand off", extra={"process_token": process_token})
            return
        self.provider.start(request)  # raises when unavailable: the runner retries from our position
        self.handoff.forget(process_token)
        log.info("kyc provider called", extra={"process_token": process_token})
