"""The sandbox KYC provider: behaves like the real one, without leaving the machine.

It accepts a start request, remembers its idempotency key (a repeated request starts nothing), decides
(PANs whose four digits are `0000` are rejected, the rest verified; `full` tier when Aadhaar was offered)
and about half a second later calls back with a webhook signed exactly as API.md says, through an
injected delivery callable: an HTTP POST to the server's own loopback URL in `bondflow serve`, the test
client in tests. Failed deliveries are retried with backoff and a fresh nonce; the event id stays the
same, so BondFlow sees a redelivery. The PAN is used to decide and then dropped.

Fault switches (target `kyc`): `fail_next`, `timeout_next` and `timeout_rate` make `start` raise
`KycProviderUnavailable` (the effect worker retries); `fail_rate` makes the provider reject the check;
`duplicate_rate` delivers the webhook twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading

import orjson

from bondflow.adapters.kyc_port import KycProviderUnavailable, KycRequest
from bondflow.adapters.sandbox_faults import Faults, FaultSwitches
from bondflow.adapters.webhook_sender import Delivery, SignedWebhookSender
from bondflow.clock import Clock

log = logging.getLogger(__name__)

REJECTED_DIGITS = "0000"


class SandboxKycProvider:
    def __init__(
        self,
        deliver: Delivery,
        secret: str,
        clock: Clock,
        *,
        delay_seconds: float = 0.5,
        max_attempts: int = 5,
        faults: FaultSwitches | None = None,
    ) -> None:
        self.sender = SignedWebhookSender(deliver, secret, clock, max_attempts=max_attempts)
        self.delay_seconds = delay_seconds
        self.faults: FaultSwitches = faults or Faults("kyc")
        self.accepted: list[str] = []  # idempotency keys of the verifications actually started
        self.sent: dict[str, bytes] = {}  # process token -> the webhook body delivered for it
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def start(self, request: KycRequest) -> None:
        key = request.idempotency_key
        with self._lock:
            if request.idempotency_key in self._seen:
                return
            on = self.faults.current()  # every switch of the target in one read
            if on.take("fail_next") or on.times_out(key):
                raise KycProviderUnavailable("sandbox KYC provider: injected failure")
            self._seen.add(key)
            self.accepted.append(key)
        body = self._decide(request, refused=on.hits("fail_rate", key))
        self.sent[request.process_token] = body
        self.sender.send_later(self.delay_seconds, body)
        if on.hits("duplicate_rate", key):
            self.sender.send_later(self.delay_seconds * 2, body)

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
