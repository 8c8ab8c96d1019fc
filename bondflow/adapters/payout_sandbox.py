"""The sandbox for settlement cash transfers (dealer payouts and collections): remembers each idempotency
key, shares the payments sandbox's `Faults` (target `payments`): `timeout_next` raises
`PaymentProviderUnavailable` before anything happens, `fail_next` / `fail_rate` refuse the transfer."""

from __future__ import annotations

import hashlib
import threading
from decimal import Decimal

from bondflow.adapters.payments_port import PaymentProviderUnavailable
from bondflow.adapters.payments_sandbox import Faults
from bondflow.adapters.payout_port import CANCELLED, CONFIRMED, FAILED, PayoutResult


class SandboxPayouts:
    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.results: dict[str, PayoutResult] = {}
        self.moved: dict[str, Decimal] = {}  # idempotency key -> amount actually moved
        self._lock = threading.Lock()

    def transfer(
        self, instruction_id: str, amount: Decimal, direction: str, counterparty: str, idempotency_key: str
    ) -> PayoutResult:
        with self._lock:
            known = self.results.get(idempotency_key)
            if known is not None:
                return known
            if self.faults.take("timeout_next"):
                raise PaymentProviderUnavailable("sandbox payouts: injected timeout")
            reference = "SBXSET" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16].upper()
            refused = self.faults.take("fail_next") or self.faults.rng.random() < self.faults.fail_rate
            result = PayoutResult(
                FAILED if refused else CONFIRMED, reference, "refused by the provider" if refused else None
            )
            self.results[idempotency_key] = result
            if not refused:
                self.moved[idempotency_key] = amount
            return result

    def cancel(self, idempotency_key: str) -> PayoutResult:
        with self._lock:
            known = self.results.get(idempotency_key)
            if known is None:
                known = PayoutResult(CANCELLED, "", "cancelled before it was made")
                self.results[idempotency_key] = known
            return known
