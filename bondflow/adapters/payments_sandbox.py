"""The sandbox payments provider (UPI/RTGS/NEFT): behaves like the real one without leaving the machine.

`initiate` remembers its idempotency key (the same key returns the same provider reference and sends one
webhook), decides the outcome and about 0.3 s later calls back with a webhook signed as API.md says.
Amounts ending in `.13` paise fail. `Faults` switches failures on for tests and chaos runs:

- `fail_next`: the next `initiate` is refused (`PaymentInitiationFailed`, BF-PAY-006);
- `timeout_next`: the next `initiate` times out before the provider accepts anything
  (`PaymentProviderUnavailable`); a retry with the same key then succeeds;
- `fail_rate`: each accepted payment fails with this probability, drawn from a seeded RNG.
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import dataclass, field
from decimal import Decimal

import orjson

from bondflow.adapters.payments_port import PaymentProviderUnavailable
from bondflow.adapters.webhook_sender import SignedWebhookSender
from bondflow.errors import PaymentInitiationFailed

FAILING_PAISE = Decimal("0.13")


@dataclass
class Faults:
    fail_next: bool = False
    timeout_next: bool = False
    fail_rate: float = 0.0
    seed: int = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 - fault injection, not security

    def set(self, mode: str, value: float | None = None) -> None:
        if mode == "fail_next":
            self.fail_next = True
        elif mode == "timeout_next":
            self.timeout_next = True
        elif mode == "fail_rate" and value is not None and 0 <= value <= 1:
            self.fail_rate = value
        else:
            raise ValueError(f"unknown fault {mode!r} (value {value!r})")

    def clear(self) -> None:
        self.fail_next = self.timeout_next = False
        self.fail_rate = 0.0
        self.rng = random.Random(self.seed)  # noqa: S311

    def take(self, name: str) -> bool:
        """Consume a one-shot switch."""
        on = bool(getattr(self, name))
        setattr(self, name, False)
        return on


class SandboxPaymentProvider:
    def __init__(
        self, sender: SignedWebhookSender, *, delay_seconds: float = 0.3, faults: Faults | None = None
    ) -> None:
        self.sender = sender
        self.delay_seconds = delay_seconds
        self.faults = faults or Faults()
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
            if self.faults.take("timeout_next"):
                raise PaymentProviderUnavailable("sandbox payments provider: injected timeout")
            if self.faults.take("fail_next"):
                raise PaymentInitiationFailed(
                    "sandbox payments provider: injected refusal", {"payment_id": payment_id}
                )
            digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
            reference = f"SBX{method}{digest[:16].upper()}"
            failed = amount % 1 == FAILING_PAISE or self.faults.rng.random() < self.faults.fail_rate
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
        return reference

    def redeliver(self, payment_id: str) -> int:
        """Send the same provider event again (fresh timestamp and nonce), as real providers sometimes do."""
        return self.sender.send_now(self.sent[payment_id])

    def close(self) -> None:
        self.sender.close()
