"""The sandbox KYC provider: behaves like the real one, without leaving the machine.

It accepts a start request, remembers its idempotency key (a repeated request starts nothing), decides
(PANs whose four digits are `0000` are rejected, the rest verified; `full` tier when Aadhaar was offered)
and about half a second later calls back with a webhook signed exactly as API.md says, through an
injected delivery callable: an HTTP POST to the server's own loopback URL in `bondflow serve`, the test
client in tests. Failed deliveries are retried with backoff and a fresh nonce; the event id stays the
same, so BondFlow sees a redelivery. The PAN is used to decide and then dropped. The requests it has
taken (their idempotency keys and the decided webhook, never the PAN) and the webhooks it still owes are
kept in PostgreSQL (`sandbox_kyc_requests`, `sandbox_webhooks`), written in one transaction, so a
provider killed before calling back calls back once any process runs it again.

Fault switches (target `kyc`): `fail_next`, `timeout_next` and `timeout_rate` make `start` raise
`KycProviderUnavailable` (the effect worker retries); `fail_rate` makes the provider reject the check;
`duplicate_rate` delivers the webhook twice.
"""

from __future__ import annotations

import hashlib
import logging

import orjson

from bondflow.adapters.kyc_port import KycProviderUnavailable, KycRequest
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import Faults, FaultSwitches
from bondflow.adapters.webhook_outbox import WebhookOutbox
from bondflow.adapters.webhook_sender import Delivery, SignedWebhookSender
from bondflow.runtime.clock import Clock

log = logging.getLogger(__name__)

REJECTED_DIGITS = "0000"

DDL = """
CREATE TABLE IF NOT EXISTS sandbox_kyc_requests (
    idempotency_key text PRIMARY KEY,
    process_token text NOT NULL,
    body bytea NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
"""


class SandboxKycProvider:
    def __init__(
        self,
        deliver: Delivery,
        secret: str,
        clock: Clock,
        db: Database,
        *,
        delay_seconds: float = 0.5,
        max_attempts: int = 10,
        faults: FaultSwitches | None = None,
    ) -> None:
        outbox = WebhookOutbox(db, "kyc")
        self.sender = SignedWebhookSender(deliver, secret, clock, outbox, max_attempts=max_attempts)
        self.db = db
        self.delay_seconds = delay_seconds
        self.faults: FaultSwitches = faults or Faults("kyc")

    def setup(self) -> None:
        self.db.create_tables("sandbox_kyc_requests", DDL)
        self.sender.outbox.setup()

    def start(self, request: KycRequest) -> None:
        key = request.idempotency_key
        with self.db.transaction(commit_on=(KycProviderUnavailable,)) as cur:
            # one request per key at a time, whichever process makes it
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 13))", (key,))
            seen = cur.execute("SELECT 1 FROM sandbox_kyc_requests WHERE idempotency_key = %s", (key,))
            if seen.fetchone() is not None:
                return
            on = self.faults.current(cur)  # every switch of the target in one read, on our connection
            if on.take("fail_next") or on.times_out(key):
                raise KycProviderUnavailable("sandbox KYC provider: injected failure")
            body = self._decide(request, refused=on.hits("fail_rate", key))
            cur.execute(
                "INSERT INTO sandbox_kyc_requests (idempotency_key, process_token, body) VALUES (%s, %s, %s)",
                (key, request.process_token, body),
            )
            self.sender.send_later(self.delay_seconds, body, within=cur)
            if on.hits("duplicate_rate", key):
                self.sender.send_later(self.delay_seconds * 2, body, within=cur)

    @property
    def accepted(self) -> list[str]:
        """Idempotency keys of the verifications actually started, in the order they were."""
        with self.db.cursor() as cur:
            rows = cur.execute("SELECT idempotency_key FROM sandbox_kyc_requests ORDER BY accepted_at")
            return [str(key) for (key,) in rows.fetchall()]

    @property
    def sent(self) -> dict[str, bytes]:
        """Process token → the webhook body sent for it."""
        with self.db.cursor() as cur:
            rows = cur.execute("SELECT process_token, body FROM sandbox_kyc_requests").fetchall()
        return {str(token): bytes(body) for token, body in rows}

    def redeliver(self, process_token: str) -> int:
        """Send the same provider event again (fresh timestamp and nonce), as real providers sometimes do."""
        return self.sender.send_now(self.sent[process_token])

    def close(self) -> None:
        self.sender.close()

    @staticmethod
    def _decide(request: KycRequest, *, refused: bool = False) -> bytes:
        digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()
        verified = request.pan[5:9] != REJECTED_DIGITS and not refused
        payload = {
            "event_id": f"evt_{digest[:32]}",
            "process_token": request.process_token,
            "status": "verified" if verified else "rejected",
            "tier": ("full" if request.aadhaar_last4 else "basic") if verified else None,
            "kra_ref": f"KRA{digest[32:42].upper()}",
            "ckyc_no": str(int(digest[42:], 16))[:14].rjust(14, "0") if verified else None,
        }
        return orjson.dumps(payload)
