"""The blockchain bridge port: submit a token transfer on the permissioned chain, ask for its finality,
cancel one that is not final; and holds (ERC-1996 style): lock a holder's tokens in favour of a
beneficiary until an expiry, execute the hold (the final transfer, after the chain's finality) or release
it. Every call is keyed by an idempotency key derived from the request event; a hold's id is its key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

PENDING = "PENDING"
FINAL = "FINAL"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
HELD = "HELD"
RELEASED = "RELEASED"


class ChainUnavailable(RuntimeError):
    """The bridge did not answer: nothing is known to have been submitted; retry with the same key."""


@dataclass(frozen=True, slots=True)
class TransferStatus:
    tx_hash: str
    status: str  # PENDING, FINAL, FAILED or CANCELLED
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class HoldStatus:
    """HELD (locked), PENDING (executed, not final yet), FINAL (transferred), RELEASED or FAILED."""

    hold_id: str
    status: str
    tx_hash: str | None = None
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

    def hold(
        self, isin: str, holder: str, beneficiary: str, qty: Decimal, expires_at: datetime, hold_id: str
    ) -> HoldStatus:
        """Lock `qty` of the holder's free tokens for the beneficiary until `expires_at`, once per id (the
        same id answers the same hold; a released id stays released). Raises `ChainUnavailable`."""
        ...

    def execute_hold(self, hold_id: str) -> HoldStatus:
        """Transfer the held tokens to the beneficiary (final after the chain's finality); executing again
        answers the same execution. An expired or refused execution releases the hold (FAILED/RELEASED)."""
        ...

    def release_hold(self, hold_id: str) -> HoldStatus:
        """Give the tokens back to the holder unless the execution is already final (then FINAL); an id
        never held is released for good."""
        ...

    def hold_status(self, hold_id: str) -> HoldStatus | None:
        """The hold's state (finality and expiry applied); None if never placed."""
        ...
