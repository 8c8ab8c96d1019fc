"""The KYC provider port: start a verification; the provider answers later by signed webhook."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class KycRequest:
    process_token: str
    pan: str
    aadhaar_last4: str | None
    idempotency_key: str  # derived from the log event: a redelivered request starts nothing new

    def __repr__(self) -> str:  # never print the PAN, even by accident
        return f"KycRequest(process_token={self.process_token!r}, idempotency_key={self.idempotency_key!r})"


class KycProviderUnavailable(RuntimeError):
    """The provider could not take the request now; the effect worker retries from its position."""


class KycProvider(Protocol):
    def start(self, request: KycRequest) -> None: ...

    def close(self) -> None: ...
