"""The sandbox payments provider (UPI/RTGS/NEFT): behaves like the real one without leaving the machine.

`initiate` remembers its idempotency key (the same key returns the same provider reference and sends one
webhook), decides the outcome and about 0.3 s later calls back with a webhook signed as API.md says.
Amounts ending in `.13` paise fail. Fault switches (`bondflow.adapters.sandbox_faults`, target `payments`)
turn failures on for tests and chaos runs:

- `fail_next`: the next `initiate` is refused (`PaymentInitiationFailed`, BF-PAY-006);
- `timeout_next` / `timeout_rate`: `initiate` times out before the provider accepts anything
  (`PaymentProviderUnavailable`); a retry with the same key then may go through;
- `fail_rate`: each accepted payment fails with this probability (drawn per idempotency key);
- `duplicate_rate`: the webhook is delivered twice (a provider's redelivery).
"""

from __future__ import annotations

import hashlib
import threading
from decimal import Decimal

import orjson

from bondflow.adapters.payments_port import PaymentProviderUnavailable
from bondflow.adapters.sandbox_faults import Faults, FaultSwitches
from bondflow.adapters.webhook_sender import SignedWebhookSender
from bondflow.errors import PaymentInitiationFailed

FAILING_PAISE = Decimal("0.13")


class SandboxPaymentProvider:
    def __init__(
        self, sender: SignedWebhookSender, *, delay_seconds: float = 0.3, faults: FaultSwitches | None = None
    ) -> None:
        self.sender = sender
        self.delay_seconds = delay_seconds
        self.faults: FaultSwitches = faults or Faults("payments")
        self.accepted: list[str] = []  # idempotency keys of the payments actually started
        self.sent: dict[str, bytes] = {}  # payment id -> the webhook body sent for it
        self._references: dict[str, str] = {}  # idempotency key -> provider reference
        self._lock = threading.Lock()

    def initiate(
        self, payment_id: str, amount: Decimal, method: str, idempotency_key: str, *, payout: bool = False
    ) -> str:
        with self._lock:
            known = self._references.get(idempotency_key)
            if known is not None:
                return known
            on = self.faults.current()  # every switch of the target in one read
            if on.times_out(idempotency_key):
                raise PaymentProviderUnavailable("sandbox payments provider: injected timeout")
            if on.take("fail_next"):
                raise PaymentInitiationFailed(
                    "sandbox payments provider: injected refusal", {"payment_id": payment_id}
                )
            digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
            reference = f"SBX{method}{digest[:16].upper()}"
            failed = amount % 1 == FAILING_PAISE or on.hits("fail_rate", idempotency_key)
            twice = on.hits("duplicate_rate", idempotency_key)
            body = orjson.dumps(
                {
                    "event_id": f"pevt_{digest[16:48]}",
                    "payment_id": payment_id,
                    "status": "FAILED" if failed else "CONFIRMED",
                    "reference": reference,
                    "amount": str(amount),
                }
            )
            self._references[idempotency_key] = reference
            self.accepted.append(idempotency_key)
            self.sent[payment_id] = body
        self.sender.send_later(self.delay_seconds, body)
        if twice:
            self.sender.send_later(self.delay_seconds * 2, body)
        return reference

    def redeliver(self, payment_id: str) -> int:
        """Send the same provider event again (fresh timestamp and nonce), as real providers sometimes do."""
        return self.sender.send_now(self.sent[payment_id])

    def close(self) -> None:
        self.sender.close()
