"""The one error hierarchy of BondFlow; each class carries its BF code and HTTP status.

    BondFlowError
    ├── InvalidRequest            BF-REQ-001  400
    │   └── InvalidOrder          BF-ORD-003  400
    ├── Unauthenticated           BF-AUTH-001 401
    ├── Forbidden                 BF-AUTH-002 403
    ├── KycNotEligible            BF-KYC-002  403
    ├── PanAlreadyVerified        BF-KYC-003  409 (one PAN, one verified account; the PAN is never named)
    ├── NotFound                  BF-NF-001   404
    ├── EmailAlreadyRegistered    BF-USR-001  409
    ├── LimitBreached             BF-ORD-004  403
    ├── NotTradable               BF-ORD-005  409
    ├── PriceOutsideBand          BF-ORD-006  422
    ├── InsufficientFunds         BF-ORD-007  403
    ├── RecordedRefusal           (the code and status of a refusal replayed for its Idempotency-Key)
    ├── OrderNotCancellable       BF-ORD-008  409
    ├── PaymentInitiationFailed   BF-PAY-006  502
    ├── PaymentNotResolvable      BF-PAY-007  409
    ├── SettlementTimeout         BF-SET-007  504 (also a terminal saga reason)
    ├── SettlementNotCancellable  BF-SET-008  409
    ├── InstrumentAlreadyListed   BF-INS-001  409
    ├── DeclarationOnRecord       BF-TAX-001  409 (another Form 15G/15H for a year already on record)
    ├── IdempotencyKeyMissing     BF-IDEM-001 400
    ├── IdempotencyKeyReused      BF-IDEM-002 422
    ├── IdempotencyInProgress     BF-IDEM-003 409
    ├── WriteConflict             BF-CONFLICT-001 409 (with Retry-After)
    ├── WebhookRejected           BF-WH-001   401
    ├── RateLimited               BF-RATE-001 429 (with Retry-After)
    ├── ProjectionBehind          BF-QRY-001  503 (with Retry-After; also when too many queries wait)
    ├── PositionBeyondLog         BF-QRY-002  400
    ├── BodyTooLarge              BF-REQ-001  413
    ├── DependencyDown            BF-DEP-001  503 (readiness: a dependency or a follower is down; Retry-After)
    ├── Inconsistency             BF-INT-001  500 (a broken invariant inside, e.g. an overfill: never the
    │                                              client's doing; the answer carries no internals)
    └── ConfigurationError        (start-up only, never an HTTP answer)

Settlement failure codes that are never an HTTP answer, only a terminal saga reason on the settlement:
`CHAIN_REJECTED` (BF-SET-006: the chain refused the hold or its execution), `SettlementTimeout.code`
(BF-SET-007) and `FORCE_CANCELLED` (BF-SET-009: an operator force-cancelled a broken leg).

One handler (`bondflow.api.errors`) maps them to the envelope; routes never build error responses.
"""

from __future__ import annotations

from typing import Any, ClassVar


class BondFlowError(Exception):
    code: ClassVar[str] = "BF-INT-001"
    status: ClassVar[int] = 500
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def response_headers(self) -> dict[str, str]:
        return dict(self.headers)


class InvalidRequest(BondFlowError):
    code = "BF-REQ-001"
    status = 400


class InvalidOrder(InvalidRequest):
    code = "BF-ORD-003"
    status = 400


class Unauthenticated(BondFlowError):
    code = "BF-AUTH-001"
    status = 401
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": "Bearer"}


class Forbidden(BondFlowError):
    code = "BF-AUTH-002"
    status = 403


class NotFound(BondFlowError):
    code = "BF-NF-001"
    status = 404


class KycNotEligible(BondFlowError):
    """KYC not verified, or the investor's residency, category or tier does not allow the action."""

    code = "BF-KYC-002"
    status = 403


class PanAlreadyVerified(BondFlowError):
    """Another account is already verified with this PAN: one person, one verified account."""

    code = "BF-KYC-003"
    status = 409


class EmailAlreadyRegistered(BondFlowError):
    code = "BF-USR-001"
    status = 409


class WebhookRejected(BondFlowError):
    """A webhook whose signature, timestamp or nonce is refused."""

    code = "BF-WH-001"
    status = 401


class RateLimited(BondFlowError):
    code = "BF-RATE-001"
    status = 429

    def __init__(
        self,
        message: str,
        retry_after: int,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,  # e.g. RateLimit-Policy and RateLimit
    ) -> None:
        super().__init__(message, details)
        self.retry_after = max(1, retry_after)
        self.extra_headers = dict(headers or {})

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after), **self.extra_headers}


class LimitBreached(BondFlowError):
    """An exposure or position limit would be breached; `details` names the limit and the headroom."""

    code = "BF-ORD-004"
    status = 403


class NotTradable(BondFlowError):
    code = "BF-ORD-005"
    status = 409


class PriceOutsideBand(BondFlowError):
    code = "BF-ORD-006"
    status = 422


class InsufficientFunds(BondFlowError):
    """Not enough available escrow (BUY) or unreserved holdings (SELL)."""

    code = "BF-ORD-007"
    status = 403


class RecordedRefusal(BondFlowError):
    """A refusal recorded earlier (an `OrderRejected` event), answered again for an idempotent replay."""

    def __init__(self, code: str, status: int, message: str, details: dict[str, Any]) -> None:
        super().__init__(message, details)
        self.code = code  # type: ignore[misc]
        self.status = status  # type: ignore[misc]

    def response_headers(self) -> dict[str, str]:
        return {"Idempotent-Replayed": "true"}


class OrderNotCancellable(BondFlowError):
    code = "BF-ORD-008"
    status = 409


class PaymentInitiationFailed(BondFlowError):
    """The payments provider refused to start a payment (raised by its adapter; the effect worker records
    the payment as failed)."""

    code = "BF-PAY-006"
    status = 502


class PaymentNotResolvable(BondFlowError):
    """An operator's resolution of a payment break that the provider's answer does not support (or the
    payment is not a break): nothing is recorded."""

    code = "BF-PAY-007"
    status = 409


class SettlementTimeout(BondFlowError):
    """A settlement leg was not final by its deadline (also recorded as the saga's failure code)."""

    code = "BF-SET-007"
    status = 504


class SettlementNotCancellable(BondFlowError):
    """An operator asked to force-cancel a settlement that is terminal or can no longer be undone."""

    code = "BF-SET-008"
    status = 409


class InstrumentAlreadyListed(BondFlowError):
    code = "BF-INS-001"
    status = 409


class DeclarationOnRecord(BondFlowError):
    code = "BF-TAX-001"
    status = 409


CHAIN_REJECTED = "BF-SET-006"  # terminal saga reasons (see the module docstring)
FORCE_CANCELLED = "BF-SET-009"


class IdempotencyKeyMissing(BondFlowError):
    code = "BF-IDEM-001"
    status = 400


class IdempotencyKeyReused(BondFlowError):
    code = "BF-IDEM-002"
    status = 422


class IdempotencyInProgress(BondFlowError):
    code = "BF-IDEM-003"
    status = 409
    headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}


class WriteConflict(BondFlowError):
    """Concurrent writes to the same aggregate kept colliding, so the command gave up without any effect;
    the same request can simply be sent again."""

    code = "BF-CONFLICT-001"
    status = 409
    headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}


class ProjectionBehind(BondFlowError):
    """A query's `min_position` was not reached in time: try again shortly."""

    code = "BF-QRY-001"
    status = 503
    headers: ClassVar[dict[str, str]] = {"Retry-After": "1"}


class PositionBeyondLog(BondFlowError):
    """A query's `min_position` is beyond the head of the log: no command ever returned it."""

    code = "BF-QRY-002"
    status = 400


class BodyTooLarge(BondFlowError):
    """A request body larger than the server accepts (checked while it streams in)."""

    code = "BF-REQ-001"
    status = 413


class ConfigurationError(BondFlowError):
    """Settings that must not be used (for example default secrets in production)."""


class DependencyDown(BondFlowError):
    """`/readyz`: a dependency or a follower is down; `details.checks` says which."""

    code = "BF-DEP-001"
    status = 503
    headers: ClassVar[dict[str, str]] = {"Retry-After": "5"}


class Inconsistency(BondFlowError):
    """An invariant broken inside BondFlow (a fill larger than the order's remainder): a defect upstream,
    logged with its message; the client gets only `500 BF-INT-001 internal error`."""

    code = "BF-INT-001"
    status = 500
