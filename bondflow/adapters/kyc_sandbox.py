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
from collections.abc import Callable

import httpx
import orjson

from bondflow.adapters.kyc_port import KycProviderUnavailable, KycRequest
from bondflow.adapters.sandbox_faults import Faults, FaultSwitches
from bondflow.clock import Clock
from bondflow.webhooks import signed_headers

log = logging.getLogger(__name__)

Delivery = Callable[[bytes, dict[str, str]], int]  # (raw body, headers) -> HTTP status
REJECTED_DIGITS = "0000"


class HttpDelivery:
    """POSTs the webhook to a URL (the server's own loopback address in `bondflow serve`)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout

    def __call__(self, body: bytes, headers: dict[str, str]) -> int:
        return httpx.post(self.url, content=body, headers=headers, timeout=self.timeout).status_code


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
        self.deliver = deliver
        self.secret = secret
        self.clock = clock
        self.delay_seconds = delay_seconds
        self.max_attempts = max_attempts
        self.faults: FaultSwitches = faults or Faults("kyc")
        self.accepted: list[str] = []  # idempotency keys of the verifications actually started
        self.sent: dict[str, bytes] = {}  # process token -> the webhook body delivered for it
        self._seen: set[str] = set()
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._closed = False

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
        self._schedule(self.delay_seconds, body, 1)
        if on.hits("duplicate_rate", key):
            self._schedule(self.delay_seconds * 2, body, 1)

    def redeliver(self, process_token: str) -> int:
        """Send the same provider event again (fresh timestamp and nonce), as real providers sometimes do."""
        return self._deliver_once(self.sent[process_token])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timers = list(self._timers)
        for timer in timers:
            timer.cancel()
        for timer in timers:  # a delivery already under way finishes before its channel goes away
            if timer is not threading.current_thread():
                timer.join(timeout=10)

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

    def _schedule(self, delay: float, body: bytes, attempt: int) -> None:
        with self._lock:
            if self._closed:
                return
            timer = threading.Timer(delay, self._attempt, (body, attempt))
            timer.daemon = True
            self._timers.add(timer)
        timer.start()

    def _attempt(self, body: bytes, attempt: int) -> None:
        with self._lock:
            self._timers = {t for t in self._timers if t.is_alive() and t is not threading.current_thread()}
            if self._closed:
                return
        status = self._deliver_once(body)
        if (status in {0, 401} or status >= 500) and attempt < self.max_attempts:
            self._schedule(self.delay_seconds * 2**attempt, body, attempt + 1)

    def _deliver_once(self, body: bytes) -> int:
        headers = signed_headers(self.secret, body, int(self.clock.now().timestamp()))
        try:
            status = self.deliver(body, headers)
        except Exception as exc:  # the webhook receiver is down: try again later
            log.warning("sandbox KYC webhook delivery failed: %s", type(exc).__name__)
            return 0
        if status >= 300:
            log.warning("sandbox KYC webhook answered %s", status)
        return status
