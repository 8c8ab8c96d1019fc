"""The Settlement aggregate: the DvP saga's state for one trade, a pure state machine (no I/O, no clock).

BUY:  STARTED → PAYMENT_INSTRUCTED → PAYMENT_CONFIRMED → TOKEN_REQUESTED → TOKEN_TRANSFERRED → COMPLETED
SELL: STARTED → TOKEN_REQUESTED → TOKEN_TRANSFERRED → PAYMENT_INSTRUCTED → PAYMENT_CONFIRMED → COMPLETED
Compensation: PAYMENT_FAILED → FAILED (BUY); TOKEN_FAILED → REFUND_REQUESTED → REFUNDED → FAILED (BUY);
TOKEN_FAILED → FAILED (SELL, nothing moved). A leg whose provider stays unavailable is BROKEN (dead letter)
until an operator retries it or force-cancels it. Every transition method returns False and records nothing
when the settlement is not in a state that allows it, so a redelivered command is a no-op.

Event class paths (`bondflow.domain.settlement:Settlement.…`) are stored data: never move them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.ids import derived_id


class SettlementState(StrEnum):
    STARTED = "STARTED"
    PAYMENT_INSTRUCTED = "PAYMENT_INSTRUCTED"
    PAYMENT_CONFIRMED = "PAYMENT_CONFIRMED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    TOKEN_REQUESTED = "TOKEN_REQUESTED"  # noqa: S105 - a state name, not a secret
    TOKEN_TRANSFERRED = "TOKEN_TRANSFERRED"  # noqa: S105 - a state name, not a secret
    TOKEN_FAILED = "TOKEN_FAILED"  # noqa: S105 - a state name, not a secret
    REFUND_REQUESTED = "REFUND_REQUESTED"
    REFUNDED = "REFUNDED"
    BROKEN = "BROKEN"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


S = SettlementState
TERMINAL = frozenset({S.COMPLETED, S.FAILED})
PAYMENT_STEP = "payment"
TOKEN_STEP = "token"  # noqa: S105 - a state name, not a secret
STEP_STATES = {PAYMENT_STEP: S.PAYMENT_INSTRUCTED, TOKEN_STEP: S.TOKEN_REQUESTED}


def settlement_id(trade_id: str) -> UUID:
    return derived_id("settlement", trade_id)


def cash_amount(side: str, consideration: Decimal, fees: Decimal) -> Decimal:
    """What the cash leg moves: a BUY pays the trade's consideration (fees included); a SELL's
    consideration is gross + fees, so the seller receives gross − fees."""
    return consideration if side == "BUY" else consideration - 2 * fees


def investor_wallet(user_id: str) -> str:
    return f"investor:{user_id}"


def dealer_wallet(dealer: str) -> str:
    return f"dealer:{dealer}"


class Settlement(Aggregate):
    """DvP state of one trade; every event records who acted and for which request."""

    @event("Started")
    def __init__(
        self,
        *,
        id: UUID,
        trade_id: str,
        order_id: str,
        user_id: str,
        isin: str,
        side: str,
        dealer: str,
        qty: Decimal,
        consideration: Decimal,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.trade_id = trade_id
        self.order_id = order_id
        self.user_id = user_id
        self.isin = isin
        self.side = side
        self.dealer = dealer
        self.qty = qty
        self.consideration = consideration
        self.state = S.STARTED
        self.payment_reference: str | None = None
        self.tx_hash: str | None = None
        self.deadline_at: datetime | None = None
        self.deadline_step: str | None = None
        self.expired_steps: list[str] = []
        self.broken_step: str | None = None
        self.attempt = 0
        self.failure_code: str | None = None
        self.reason: str | None = None
        self.paid = False  # the cash leg moved (BUY: escrow debited; SELL: escrow credited)
        self.tokens_moved = False
        self.refunded_amount = Decimal(0)

    @classmethod
    def start(
        cls,
        *,
        trade_id: str,
        order_id: str,
        user_id: str,
        isin: str,
        side: str,
        dealer: str,
        qty: Decimal,
        consideration: Decimal,
        actor_id: str,
        request_id: str,
    ) -> Settlement:
        return cls(
            id=settlement_id(trade_id),
            trade_id=trade_id,
            order_id=order_id,
            user_id=user_id,
            isin=isin,
            side=side,
            dealer=dealer,
            qty=qty,
            consideration=consideration,
            actor_id=actor_id,
            request_id=request_id,
        )

    @property
    def is_buy(self) -> bool:
        return self.side == "BUY"

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def token_from(self) -> str:
        return dealer_wallet(self.dealer) if self.is_buy else investor_wallet(self.user_id)

    @property
    def token_to(self) -> str:
        return investor_wallet(self.user_id) if self.is_buy else dealer_wallet(self.dealer)

    # -- the cash leg ---------------------------------------------------------------------------------

    def instruct_payment(self, *, deadline_at: datetime, actor_id: str, request_id: str) -> bool:
        ready = S.STARTED if self.is_buy else S.TOKEN_TRANSFERRED
        if self.state is not ready:
            return False
        direction = "PAY_DEALER" if self.is_buy else "COLLECT_FROM_DEALER"
        self._payment_instructed(
            amount=self.consideration,
            direction=direction,
            deadline_at=deadline_at,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    @event("PaymentInstructed")
    def _payment_instructed(
        self, *, amount: Decimal, direction: str, deadline_at: datetime, actor_id: str, request_id: str
    ) -> None:
        self.state = S.PAYMENT_INSTRUCTED
        self._set_deadline(PAYMENT_STEP, deadline_at)

    def confirm_payment(self, *, reference: str, actor_id: str, request_id: str) -> bool:
        if not self.at_step(PAYMENT_STEP):
            return False
        self._payment_confirmed(reference=reference, actor_id=actor_id, request_id=request_id)
        return True

    @event("PaymentConfirmed")
    def _payment_confirmed(self, *, reference: str, actor_id: str, request_id: str) -> None:
        self.state = S.PAYMENT_CONFIRMED
        self.payment_reference = reference
        self.paid = True
        self._clear_deadline()

    def fail_payment(self, *, code: str, reason: str, actor_id: str, request_id: str) -> bool:
        if not self.at_step(PAYMENT_STEP):
            return False
        self._payment_failed(code=code, reason=reason, actor_id=actor_id, request_id=request_id)
        return True

    @event("PaymentFailed")
    def _payment_failed(self, *, code: str, reason: str, actor_id: str, request_id: str) -> None:
        self.state = S.PAYMENT_FAILED
        self.failure_code = code
        self.reason = reason
        self._clear_deadline()

    # -- the token leg --------------------------------------------------------------------------------

    def request_token_transfer(self, *, deadline_at: datetime, actor_id: str, request_id: str) -> bool:
        ready = S.PAYMENT_CONFIRMED if self.is_buy else S.STARTED
        if self.state is not ready:
            return False
        self._token_transfer_requested(
            isin=self.isin,
            qty=self.qty,
            from_wallet=self.token_from,
            to_wallet=self.token_to,
            deadline_at=deadline_at,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    @event("TokenTransferRequested")
    def _token_transfer_requested(
        self,
        *,
        isin: str,
        qty: Decimal,
        from_wallet: str,
        to_wallet: str,
        deadline_at: datetime,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.state = S.TOKEN_REQUESTED
        self._set_deadline(TOKEN_STEP, deadline_at)

    def token_transferred(self, *, tx_hash: str, actor_id: str, request_id: str) -> bool:
        if not self.at_step(TOKEN_STEP):
            return False
        self._token_transferred(tx_hash=tx_hash, actor_id=actor_id, request_id=request_id)
        return True

    @event("TokenTransferred")
    def _token_transferred(self, *, tx_hash: str, actor_id: str, request_id: str) -> None:
        self.state = S.TOKEN_TRANSFERRED
        self.tx_hash = tx_hash
        self.tokens_moved = True
        self._clear_deadline()

    def fail_token_transfer(
        self, *, code: str, reason: str, tx_hash: str | None, actor_id: str, request_id: str
    ) -> bool:
        if not self.at_step(TOKEN_STEP):
            return False
        self._token_transfer_failed(
            code=code, reason=reason, tx_hash=tx_hash, actor_id=actor_id, request_id=request_id
        )
        return True

    @event("TokenTransferFailed")
    def _token_transfer_failed(
        self, *, code: str, reason: str, tx_hash: str | None, actor_id: str, request_id: str
    ) -> None:
        self.state = S.TOKEN_FAILED
        self.failure_code = code
        self.reason = reason
        self.tx_hash = tx_hash
        self._clear_deadline()

    # -- compensation and the end ---------------------------------------------------------------------

    def request_refund(self, *, actor_id: str, request_id: str) -> bool:
        if self.state is not S.TOKEN_FAILED or not self.is_buy or not self.paid:
            return False
        self._refund_requested(amount=self.consideration, actor_id=actor_id, request_id=request_id)
        return True

    @event("RefundRequested")
    def _refund_requested(self, *, amount: Decimal, actor_id: str, request_id: str) -> None:
        self.state = S.REFUND_REQUESTED

    def refund(self, *, reference: str, actor_id: str, request_id: str) -> bool:
        if self.state is not S.REFUND_REQUESTED:
            return False
        self._refunded(
            amount=self.consideration, reference=reference, actor_id=actor_id, request_id=request_id
        )
        return True

    @event("Refunded")
    def _refunded(self, *, amount: Decimal, reference: str, actor_id: str, request_id: str) -> None:
        self.state = S.REFUNDED
        self.refunded_amount = amount

    @property
    def can_complete(self) -> bool:
        return self.state is (S.TOKEN_TRANSFERRED if self.is_buy else S.PAYMENT_CONFIRMED)

    def complete(self, *, actor_id: str, request_id: str) -> bool:
        if not self.can_complete:
            return False
        self._completed(
            payment_reference=self.payment_reference or "",
            tx_hash=self.tx_hash or "",
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    @event("Completed")
    def _completed(self, *, payment_reference: str, tx_hash: str, actor_id: str, request_id: str) -> None:
        self.state = S.COMPLETED

    @property
    def can_fail(self) -> bool:
        """Both legs undone: a BUY whose payment failed or was refunded, a SELL whose tokens never moved."""
        if self.is_buy:
            return self.state is S.PAYMENT_FAILED or self.state is S.REFUNDED
        return self.state is S.TOKEN_FAILED

    def fail(self, *, actor_id: str, request_id: str) -> bool:
        if not self.can_fail:
            return False
        self._failed(
            trade_id=self.trade_id,
            code=self.failure_code or "BF-INT-001",
            reason=self.reason or "settlement failed",
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    @event("Failed")
    def _failed(self, *, trade_id: str, code: str, reason: str, actor_id: str, request_id: str) -> None:
        self.state = S.FAILED
        self._clear_deadline()

    # -- deadlines, breaks and operators ---------------------------------------------------------------

    def expire(self, *, now: datetime, forced_by: str | None = None, actor_id: str, request_id: str) -> bool:
        """The current step's deadline passed (or an operator force-cancels it): recorded once per step."""
        step = self.broken_step if self.state is S.BROKEN else self.deadline_step
        if step is None or step in self.expired_steps:
            return False
        if forced_by is None and (
            self.deadline_at is None or now < self.deadline_at or self.state is S.BROKEN
        ):
            return False
        self._deadline_expired(
            step=step, forced_by=forced_by, expired_at=now, actor_id=actor_id, request_id=request_id
        )
        return True

    @event("DeadlineExpired")
    def _deadline_expired(
        self, *, step: str, forced_by: str | None, expired_at: datetime, actor_id: str, request_id: str
    ) -> None:
        self.expired_steps.append(step)
        self.state = STEP_STATES[step]
        self.broken_step = None

    def raise_break(self, *, step: str, reason: str, actor_id: str, request_id: str) -> bool:
        """The step's provider stayed unavailable after every retry, or a SELL's dealer payment failed after
        its tokens moved (the cash must be chased, not undone): park it for an operator."""
        unpaid_sell = not self.is_buy and step == PAYMENT_STEP and self.state is S.PAYMENT_FAILED
        if not (self.at_step(step) or unpaid_sell) or step in self.expired_steps:
            return False
        self._break_raised(step=step, reason=reason, actor_id=actor_id, request_id=request_id)
        return True

    @event("BreakRaised")
    def _break_raised(self, *, step: str, reason: str, actor_id: str, request_id: str) -> None:
        self.state = S.BROKEN
        self.broken_step = step
        self.reason = reason

    def retry(self, *, deadline_at: datetime, actor_id: str, request_id: str) -> bool:
        """An operator sends a broken step to its provider again, with a fresh deadline."""
        if self.state is not S.BROKEN or self.broken_step is None:
            return False
        self._retry_requested(
            step=self.broken_step,
            attempt=self.attempt + 1,
            deadline_at=deadline_at,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    @event("RetryRequested")
    def _retry_requested(
        self, *, step: str, attempt: int, deadline_at: datetime, actor_id: str, request_id: str
    ) -> None:
        self.state = STEP_STATES[step]
        self.attempt = attempt
        self.broken_step = None
        self._set_deadline(step, deadline_at)

    @property
    def force_cancellable(self) -> bool:
        """Only where undoing is possible: a SELL whose tokens went to the dealer must be paid, not undone."""
        if self.terminal:
            return False
        step = self.broken_step if self.state is S.BROKEN else self.deadline_step
        return step is not None and (self.is_buy or step == TOKEN_STEP)

    # -- helpers --------------------------------------------------------------------------------------

    def at_step(self, step: str) -> bool:
        return self.state is STEP_STATES[step] or (self.state is S.BROKEN and self.broken_step == step)

    def _set_deadline(self, step: str, deadline_at: datetime) -> None:
        self.deadline_step = step
        self.deadline_at = deadline_at

    def _clear_deadline(self) -> None:
        self.deadline_step = None
        self.deadline_at = None
