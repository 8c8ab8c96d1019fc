"""The settlement payments port: pay a dealer (BUY), collect from one (SELL) or refund one, keyed by an
idempotency key derived from the request event. The provider accepts at once (PENDING, with its
reference) and decides later: a signed webhook reports the outcome, and `status` answers it too."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

PENDING = "PENDING"
CONFIRMED = "CONFIRMED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class PayoutResult:
    status: str  # PENDING, CONFIRMED, FAILED or CANCELLED
    reference: str
    reason: str | None = None


class SettlementPayments(Protocol):
    def transfer(
        self, instruction_id: str, amount: Decimal, direction: str, counterparty: str, idempotency_key: str
    ) -> PayoutResult:
        """Move the cash once per key. Raises `PaymentProviderUnavailable` when the provider does not answer."""
        ...

    def status(self, idempotency_key: str) -> PayoutResult | None:
        """The request's state now; None if never requested."""
        ...

    def cancel(self, idempotency_key: str) -> PayoutResult:
        """Make sure nothing moves under this key any more; a payment already made stays CONFIRMED."""
        ...
