"""The blockchain bridge port: submit a token transfer on the permissioned chain, ask for its finality,
cancel one that is not final. Every call is keyed by an idempotency key derived from the request event."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

PENDING = "PENDING"
FINAL = "FINAL"
FAILED = "FAILED"
CANCELLED = "CANCELLED"


class ChainUnavailable(RuntimeError):
    """The bridge did not answer: nothing is known to have been submitted; retry with the same key."""


@dataclass(frozen=True, slots=True)
class TransferStatus:
    tx_hash: str
    status: str  # PENDING, FINAL, FAILED or CANCELLED
    reason: str | None = None


class ChainBridge(Protocol):
    def submit(
        self, isin: str, from_wallet: str, to_wallet: str, qty: Decimal, idempotency_key: str
    ) -> TransferStatus:
        """Submit once per key (the same key answers the same transfer). Raises `ChainUnavailable`."""
        ...

    def status(self, idempotency_key: str) -> TransferStatus | None:
        """The transfer's state, final once the chain has confirmed it; None if never submitted."""
        ...

    def cancel(self, idempotency_key: str) -> TransferStatus:
        """Drop a transfer that is not final (or make sure one is never submitted under this key); a
        transfer already final stays FINAL. Answers the resulting state."""
        ...
