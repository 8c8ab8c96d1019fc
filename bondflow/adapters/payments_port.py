"""The payments provider port: start a collect (deposit) or a payout (withdrawal); the provider answers
later by signed webhook `{event_id, payment_id, status: "CONFIRMED"|"FAILED", reference, amount}`, and
answers a status query about any payment it was asked to make (the reconciler's way to learn an outcome
whose webhook never arrived)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

CONFIRMED = "CONFIRMED"  # the money moved
FAILED = "FAILED"  # the provider refused or the bank rejected it: nothing moved
PENDING = "PENDING"  # accepted, not final yet
UNKNOWN = "UNKNOWN"  # the provider never accepted this idempotency key
CANCELLED = "CANCELLED"  # cancelled before it was accepted: the key will never start a payment


class PaymentProviderUnavailable(RuntimeError):
    """The provider did not answer (timeout): nothing is known to have started. The effect worker tries
    again with the same idempotency key, so a request that did arrive is not started twice."""


@dataclass(frozen=True, slots=True)
class ProviderPaymentStatus:
    """The provider's answer to a status query; `amount`, `reference` and `event_id` (the id of the
    provider event that decided it, the same as its webhook's) are set once it is CONFIRMED or FAILED."""

    status: str
    reference: str | None = None
    amount: Decimal | None = None
    event_id: str | None = None

    @property
    def final(self) -> bool:
        return self.status in (CONFIRMED, FAILED, CANCELLED)


class PaymentProvider(Protocol):
    def initiate(
        self, payment_id: str, amount: Decimal, method: str, idempotency_key: str, *, payout: bool = False
    ) -> str:
        """Start the payment and return the provider's reference; the same key returns the same reference
        and starts nothing new. Raises `PaymentInitiationFailed` (refused) or `PaymentProviderUnavailable`."""
        ...

    def status(self, idempotency_key: str) -> ProviderPaymentStatus:
        """What became of the payment started with this key. Raises `PaymentProviderUnavailable`."""
        ...

    def cancel(self, idempotency_key: str) -> ProviderPaymentStatus:
        """Make sure this key never starts a payment: CANCELLED if it had not, else its status as is."""
        ...

    def close(self) -> None: ...
