"""The settlement payments port: pay a dealer (BUY) or collect from one (SELL) for a trade, answered
synchronously with the provider's reference; keyed by an idempotency key derived from the request event."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

CONFIRMED = "CONFIRMED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class PayoutResult:
    status: str  # CONFIRMED, FAILED or CANCELLED
    reference: str
    reason: str | None = None


class SettlementPayments(Protocol):
    def transfer(
        self, instruction_id: str, amount: Decimal, direction: str, counterparty: str, idempotency_key: str
    ) -> PayoutResult:
        """Move the cash once per key. Raises `PaymentProviderUnavailable` when the provider does not answer."""
        ...

    def cancel(self, idempotency_key: str) -> PayoutResult:
        """Make sure nothing moves under this key any more; a payment already made stays CONFIRMED."""
        ...
