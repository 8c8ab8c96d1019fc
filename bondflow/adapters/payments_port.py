"""The payments provider port: start a collect (deposit) or a payout (withdrawal); the provider answers
later by signed webhook `{event_id, payment_id, status: "CONFIRMED"|"FAILED", reference, amount}`."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol


class PaymentProviderUnavailable(RuntimeError):
    """The provider did not answer (timeout): nothing is known to have started. The effect worker tries
    again with the same idempotency key, so a request that did arrive is not started twice."""


class PaymentProvider(Protocol):
    def initiate(
        self, payment_id: str, amount: Decimal, method: str, idempotency_key: str, *, payout: bool = False
    ) -> str:
        """Start the payment and return the provider's reference; the same key returns the same reference
        and starts nothing new. Raises `PaymentInitiationFailed` (refused) or `PaymentProviderUnavailable`."""
        ...

    def close(self) -> None: ...
