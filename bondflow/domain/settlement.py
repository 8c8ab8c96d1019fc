"""The Settlement aggregate: the DvP saga's state for one trade, a pure state machine (no I/O, no clock).

Delivery versus payment with token holds (DOMAIN.md): no final transfer happens until the other side's
value is secured, and no cash leaves the escrow bank account before the tokens are final.

BUY:  STARTED → HOLD_REQUESTED → HOLD_PLACED → PAYMENT_CONFIRMED (investor escrow → clearing, a book entry)
      → TOKEN_REQUESTED (execute the hold) → TOKEN_TRANSFERRED → PAYOUT_INSTRUCTED → DEALER_PAID → COMPLETED
SELL: STARTED → HOLD_REQUESTED → HOLD_PLACED → PAYMENT_INSTRUCTED → PAYMENT_CONFIRMED (the dealer's cash is
      in clearing) → TOKEN_REQUESTED → TOKEN_TRANSFERRED → COMPLETED (proceeds less fees credited)
Compensation: HOLD_FAILED → FAILED; PAYMENT_FAILED → RELEASE_REQUESTED → HOLD_RELEASED → FAILED;
TOKEN_FAILED (the hold released) → FAILED with the cash returned (BUY), or → REFUND_INSTRUCTED →
DEALER_REFUNDED → FAILED (SELL). After the tokens are final the cash step (payout) is an obligation: it
never fails the settlement, it becomes a break that operators retry.

Every step (`STEP_STATES`) has a deadline; past it, the timer records `DeadlineExpired` once per attempt
and the step's worker cancels what is not final and reports what happened, or raises a break. A BROKEN step
is retried or force-cancelled by operators (force-cancel only where undoing is possible: `CANCELLABLE`).
So every non-terminal state is left by the saga, the timer, `retry` or `force-cancel`. Every transition
method returns False and records nothing when the state does not allow it (a redelivery is a no-op).

Settlements started before holds (`Started` without `gross`, `dvp` False) still load and replay; their
appliers are kept. The money each event moves: `bondflow.domain.settlement_money`.

Event class paths (`bondflow.domain.settlement:Settlement.…`) are stored data: never move them.

Why this module is over 300 lines (STYLE.md): an aggregate's event classes are stored topics
(`module:Aggregate.Event`), so the aggregate, its explicit event classes and the methods that record
them stay together in this one class body; helpers that record nothing live in sibling modules.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.ids import derived_id
from bondflow.domain.settlement_money import (
    BANK_ESCROW,
    CLEARING,
    Terms,
    investor_reserved,
)


class SettlementState(StrEnum):
    STARTED = "STARTED"
    HOLD_REQUESTED = "HOLD_REQUESTED"
    HOLD_PLACED = "HOLD_PLACED"
    HOLD_FAILED = "HOLD_FAILED"
    PAYMENT_INSTRUCTED = "PAYMENT_INSTRUCTED"
    PAYMENT_CONFIRMED = "PAYMENT_CONFIRMED"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    RELEASE_REQUESTED = "RELEASE_REQUESTED"
    HOLD_RELEASED = "HOLD_RELEASED"
    TOKEN_REQUESTED = "TOKEN_REQUESTED"  # noqa: S105 - a state name, not a secret
    TOKEN_TRANSFERRED = "TOKEN_TRANSFERRED"  # noqa: S105 - a state name, not a secret
    TOKEN_FAILED = "TOKEN_FAILED"  # noqa: S105 - a state name, not a secret
    PAYOUT_INSTRUCTED = "PAYOUT_INSTRUCTED"
    DEALER_PAID = "DEALER_PAID"
    REFUND_INSTRUCTED = "REFUND_INSTRUCTED"
    DEALER_REFUNDED = "DEALER_REFUNDED"
    REFUND_REQUESTED = "REFUND_REQUESTED"  # before holds only
    REFUNDED = "REFUNDED"  # before holds only
    BROKEN = "BROKEN"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


S = SettlementState
TERMINAL = frozenset({S.COMPLETED, S.FAILED})
HOLD_STEP = "hold"
PAYMENT_STEP = "payment"
TOKEN_STEP = "token"  # noqa: S105 - a step name, not a secret
RELEASE_STEP = "release"
PAYOUT_STEP = "payout"
REFUND_STEP = "refund"
STEP_STATES = {
    HOLD_STEP: S.HOLD_REQUESTED,
    PAYMENT_STEP: S.PAYMENT_INSTRUCTED,
    TOKEN_STEP: S.TOKEN_REQUESTED,
    RELEASE_STEP: S.RELEASE_REQUESTED,
    PAYOUT_STEP: S.PAYOUT_INSTRUCTED,
    REFUND_STEP: S.REFUND_INSTRUCTED,
}
CANCELLABLE = frozenset({HOLD_STEP, PAYMENT_STEP, TOKEN_STEP})  # undoing them is possible
CHAIN_STEPS = frozenset({HOLD_STEP, TOKEN_STEP, RELEASE_STEP})


def settlement_id(trade_id: str) -> UUID:
    return derived_id("settlement", trade_id)


def cash_amount(side: str, consideration: Decimal, fees: Decimal) -> Decimal:
    """Before holds: what the cash leg moved (BUY: consideration with fees; SELL: gross − fees)."""
    return consideration if side == "BUY" else consideration - 2 * fees


def investor_wallet(user_id: str) -> str:
    return f"investor:{user_id}"


def dealer_wallet(dealer: str) -> str:
    return f"dealer:{dealer}"


class Settlement(Aggregate):
    """DvP state of one trade; every event records who acted and for which request."""

    class Started(Aggregate.Created):
        trade_id: str
        order_id: str
        user_id: str
        isin: str
        side: str
        dealer: str
        qty: Decimal
        consideration: Decimal
        actor_id: str
        request_id: str
        gross: Decimal | None
        fee: Decimal | None
        stamp_duty: Decimal | None

    @event(Started)
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
        gross: Decimal | None = None,
        fee: Decimal | None = None,
        stamp_duty: Decimal | None = None,
    ) -> None:
        self.trade_id = trade_id
        self.order_id = order_id
        self.user_id = user_id
        self.isin = isin
        self.side = side
        self.dealer = dealer
        self.qty = qty
        self.consideration = consideration  # the investor's cash: paid (BUY) or received (SELL)
        self.gross = gross if gross is not None else consideration
        self.fee = fee if fee is not None else Decimal(0)
        self.stamp_duty = stamp_duty if stamp_duty is not None else Decimal(0)
        self.dvp = gross is not None  # False: started before holds
        self.state = S.STARTED
        self.payment_reference: str | None = None
        self.tx_hash: str | None = None
        self.hold_id: str | None = None
        self.hold_expires_at = datetime.min.replace(tzinfo=UTC)
        self.deadline_at: datetime | None = None
        self.deadline_step: str | None = None
        self.expired: set[str] = set()  # "step:attempt" whose deadline was recorded
        self.broken_step: str | None = None
        self.attempt = 0
        self.failure_code: str | None = None
        self.reason: str | None = None
        self.paid = False  # the investor's cash moved (BUY: into clearing; SELL: the dealer paid in)
        self.tokens_moved = False
        self.dealer_paid = Decimal(0)  # paid out to the dealer (BUY) or refunded to it (SELL)
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
        terms: Terms,
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
            consideration=terms.investor_cash,
            gross=terms.gross,
            fee=terms.fee,
            stamp_duty=terms.stamp_duty,
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

    # -- the hold -------------------------------------------------------------------------------------

    def request_hold(
        self, *, expires_at: datetime, deadline_at: datetime, actor_id: str, request_id: str
    ) -> bool:
        if self.state is not S.STARTED or not self.dvp:
            return False
        self._hold_requested(
            isin=self.isin,
            qty=self.qty,
            holder=self.token_from,
            beneficiary=self.token_to,
            expires_at=expires_at,
            deadline_at=deadline_at,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class HoldRequested(Aggregate.Event):
        isin: str
        qty: Decimal
        holder: str
        beneficiary: str
        expires_at: datetime
        deadline_at: datetime
        actor_id: str
        request_id: str

    @event(HoldRequested)
    def _hold_requested(
        self,
        *,
        isin: str,
        qty: Decimal,
        holder: str,
        beneficiary: str,
        expires_at: datetime,
        deadline_at: datetime,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.state = S.HOLD_REQUESTED
        self.hold_expires_at = expires_at
        self._set_deadline(HOLD_STEP, deadline_at)

    def hold_placed(self, *, hold_id: str, actor_id: str, request_id: str) -> bool:
        if not self.at_step(HOLD_STEP):
            return False
        self._hold_placed(hold_id=hold_id, actor_id=actor_id, request_id=request_id)
        return True

    class HoldPlaced(Aggregate.Event):
        hold_id: str
        actor_id: str
        request_id: str

    @event(HoldPlaced)
    def _hold_placed(self, *, hold_id: str, actor_id: str, request_id: str) -> None:
        self.state = S.HOLD_PLACED
        self.hold_id = hold_id
        self._clear_deadline()

    def fail_hold(
        self, *, code: str, reason: str, actor_id: str, request_id: str, at_deadline: bool = False
    ) -> bool:
        if not self.at_step(HOLD_STEP) or self.cancelling(HOLD_STEP, at_deadline):
            return False
        self._hold_failed(code=code, reason=reason, actor_id=actor_id, request_id=request_id)
        return True

    class HoldFailed(Aggregate.Event):
        code: str
        reason: str
        actor_id: str
        request_id: str

    @event(HoldFailed)
    def _hold_failed(self, *, code: str, reason: str, actor_id: str, request_id: str) -> None:
        self.state = S.HOLD_FAILED
        self._failure(code, reason)

    def request_release(self, *, deadline_at: datetime, actor_id: str, request_id: str) -> bool:
        """The cash side failed with the hold in place: give the held tokens back to their holder."""
        if self.state is not S.PAYMENT_FAILED or not self.dvp:
            return False
        self._hold_release_requested(
            hold_id=self.hold_id or "", deadline_at=deadline_at, actor_id=actor_id, request_id=request_id
        )
        return True

    class HoldReleaseRequested(Aggregate.Event):
        hold_id: str
        deadline_at: datetime
        actor_id: str
        request_id: str

    @event(HoldReleaseRequested)
    def _hold_release_requested(
        self, *, hold_id: str, deadline_at: datetime, actor_id: str, request_id: str
    ) -> None:
        self.state = S.RELEASE_REQUESTED
        self._set_deadline(RELEASE_STEP, deadline_at)

    def hold_released(self, *, actor_id: str, request_id: str) -> bool:
        if not self.at_step(RELEASE_STEP):
            return False
        self._hold_released(hold_id=self.hold_id or "", actor_id=actor_id, request_id=request_id)
        return True

    class HoldReleased(Aggregate.Event):
        hold_id: str
        actor_id: str
        request_id: str

    @event(HoldReleased)
    def _hold_released(self, *, hold_id: str, actor_id: str, request_id: str) -> None:
        self.state = S.HOLD_RELEASED
        self._clear_deadline()

    # -- the cash into clearing -----------------------------------------------------------------------

    def clear_investor_cash(self, *, actor_id: str, request_id: str) -> bool:
        """BUY: the consideration moves from the investor's escrow to clearing (a book entry)."""
        if self.state is not S.HOLD_PLACED or not self.is_buy:
            return False
        self._payment_confirmed(
            reference=f"clearing:{self.trade_id}",
            amount=self.consideration,
            debit_account=investor_reserved(self.user_id),
            credit_account=CLEARING,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    def instruct_payment(self, *, deadline_at: datetime, actor_id: str, request_id: str) -> bool:
        """SELL: ask the dealer to pay the gross consideration into the escrow bank account."""
        if self.state is not S.HOLD_PLACED or self.is_buy:
            return False
        self._payment_instructed(
            amount=self.gross,
            direction="COLLECT_FROM_DEALER",
            deadline_at=deadline_at,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class PaymentInstructed(Aggregate.Event):
        amount: Decimal
        direction: str
        deadline_at: datetime
        actor_id: str
        request_id: str

    @event(PaymentInstructed)
    def _payment_instructed(
        self, *, amount: Decimal, direction: str, deadline_at: datetime, actor_id: str, request_id: str
    ) -> None:
        self.state = S.PAYMENT_INSTRUCTED
        self._set_deadline(PAYMENT_STEP, deadline_at)

    def confirm_payment(self, *, reference: str, actor_id: str, request_id: str) -> bool:
        """SELL: the dealer's payment arrived (provider webhook)."""
        if not self.at_step(PAYMENT_STEP):
            return False
        self._payment_confirmed(
            reference=reference,
            amount=self.gross,
            debit_account=BANK_ESCROW,
            credit_account=CLEARING,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class PaymentConfirmed(Aggregate.Event):
        reference: str
        actor_id: str
        request_id: str
        amount: Decimal | None
        debit_account: str | None
        credit_account: str | None

    @event(PaymentConfirmed)
    def _payment_confirmed(
        self,
        *,
        reference: str,
        actor_id: str,
        request_id: str,
        amount: Decimal | None = None,
        debit_account: str | None = None,
        credit_account: str | None = None,
    ) -> None:
        self.state = S.PAYMENT_CONFIRMED
        self.payment_reference = reference
        self.paid = True
        self._clear_deadline()

    def fail_payment(
        self, *, code: str, reason: str, actor_id: str, request_id: str, at_deadline: bool = False
    ) -> bool:
        """The cash could not be secured in clearing (BUY: escrow short; SELL: the dealer did not pay)."""
        buy_clearing = self.is_buy and self.state is S.HOLD_PLACED
        if not (self.at_step(PAYMENT_STEP) or buy_clearing) or self.cancelling(PAYMENT_STEP, at_deadline):
            return False
        self._payment_failed(code=code, reason=reason, actor_id=actor_id, request_id=request_id)
        return True

    class PaymentFailed(Aggregate.Event):
        code: str
        reason: str
        actor_id: str
        request_id: str

    @event(PaymentFailed)
    def _payment_failed(self, *, code: str, reason: str, actor_id: str, request_id: str) -> None:
        self.state = S.PAYMENT_FAILED
        self._failure(code, reason)

    # -- the token leg: executing the hold ------------------------------------------------------------

    def request_token_transfer(self, *, deadline_at: datetime, actor_id: str, request_id: str) -> bool:
        if self.state is not S.PAYMENT_CONFIRMED or not self.dvp:
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

    class TokenTransferRequested(Aggregate.Event):
        isin: str
        qty: Decimal
        from_wallet: str
        to_wallet: str
        deadline_at: datetime
        actor_id: str
        request_id: str

    @event(TokenTransferRequested)
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

    class TokenTransferred(Aggregate.Event):
        tx_hash: str
        actor_id: str
        request_id: str

    @event(TokenTransferred)
    def _token_transferred(self, *, tx_hash: str, actor_id: str, request_id: str) -> None:
        self.state = S.TOKEN_TRANSFERRED
        self.tx_hash = tx_hash
        self.tokens_moved = True
        self._clear_deadline()

    def fail_token_transfer(
        self,
        *,
        code: str,
        reason: str,
        tx_hash: str | None,
        actor_id: str,
        request_id: str,
        at_deadline: bool = False,
    ) -> bool:
        """The hold was not executed and has been released on the chain."""
        if not self.at_step(TOKEN_STEP) or self.cancelling(TOKEN_STEP, at_deadline):
            return False
        self._token_transfer_failed(
            code=code, reason=reason, tx_hash=tx_hash, actor_id=actor_id, request_id=request_id
        )
        return True

    class TokenTransferFailed(Aggregate.Event):
        code: str
        reason: str
        tx_hash: str | None
        actor_id: str
        request_id: str

    @event(TokenTransferFailed)
    def _token_transfer_failed(
        self, *, code: str, reason: str, tx_hash: str | None, actor_id: str, request_id: str
    ) -> None:
        self.state = S.TOKEN_FAILED
        self.tx_hash = tx_hash
        self._failure(code, reason)

    # -- the cash after delivery (an obligation) and the dealer's refund (a compensation) -------------

    def instruct_payout(self, *, deadline_at: datetime, actor_id: str, request_id: str) -> bool:
        """BUY, tokens final: the dealer is owed the gross, the fee and stamp duty leave clearing."""
        if self.state is not S.TOKEN_TRANSFERRED or not self.is_buy or not self.dvp:
            return False
        self._dealer_payout_instructed(
            dealer=self.dealer,
            amount=self.gross,
            fee=self.fee,
            stamp_duty=self.stamp_duty,
            deadline_at=deadline_at,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class DealerPayoutInstructed(Aggregate.Event):
        dealer: str
        amount: Decimal
        fee: Decimal
        stamp_duty: Decimal
        deadline_at: datetime
        actor_id: str
        request_id: str

    @event(DealerPayoutInstructed)
    def _dealer_payout_instructed(
        self,
        *,
        dealer: str,
        amount: Decimal,
        fee: Decimal,
        stamp_duty: Decimal,
        deadline_at: datetime,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.state = S.PAYOUT_INSTRUCTED
        self._set_deadline(PAYOUT_STEP, deadline_at)

    def confirm_payout(self, *, reference: str, actor_id: str, request_id: str) -> bool:
        if not self.at_step(PAYOUT_STEP):
            return False
        self._dealer_paid(
            dealer=self.dealer,
            amount=self.gross,
            reference=reference,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class DealerPaid(Aggregate.Event):
        dealer: str
        amount: Decimal
        reference: str
        actor_id: str
        request_id: str

    @event(DealerPaid)
    def _dealer_paid(
        self, *, dealer: str, amount: Decimal, reference: str, actor_id: str, request_id: str
    ) -> None:
        self.state = S.DEALER_PAID
        self.payment_reference = reference
        self.dealer_paid += amount
        self._clear_deadline()

    def instruct_refund(self, *, deadline_at: datetime, actor_id: str, request_id: str) -> bool:
        """SELL, tokens not delivered: the dealer's payment goes back to it from clearing."""
        if self.state is not S.TOKEN_FAILED or self.is_buy or not self.dvp:
            return False
        self._dealer_refund_instructed(
            dealer=self.dealer,
            amount=self.gross,
            deadline_at=deadline_at,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class DealerRefundInstructed(Aggregate.Event):
        dealer: str
        amount: Decimal
        deadline_at: datetime
        actor_id: str
        request_id: str

    @event(DealerRefundInstructed)
    def _dealer_refund_instructed(
        self, *, dealer: str, amount: Decimal, deadline_at: datetime, actor_id: str, request_id: str
    ) -> None:
        self.state = S.REFUND_INSTRUCTED
        self._set_deadline(REFUND_STEP, deadline_at)

    def confirm_refund(self, *, reference: str, actor_id: str, request_id: str) -> bool:
        if not self.at_step(REFUND_STEP):
            return False
        self._dealer_refunded(
            dealer=self.dealer,
            amount=self.gross,
            reference=reference,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class DealerRefunded(Aggregate.Event):
        dealer: str
        amount: Decimal
        reference: str
        actor_id: str
        request_id: str

    @event(DealerRefunded)
    def _dealer_refunded(
        self, *, dealer: str, amount: Decimal, reference: str, actor_id: str, request_id: str
    ) -> None:
        self.state = S.DEALER_REFUNDED
        self.dealer_paid += amount
        self._clear_deadline()

    # -- before holds: kept so that settlements recorded then still load ------------------------------

    class RefundRequested(Aggregate.Event):
        amount: Decimal
        actor_id: str
        request_id: str

    @event(RefundRequested)
    def _refund_requested(self, *, amount: Decimal, actor_id: str, request_id: str) -> None:
        self.state = S.REFUND_REQUESTED

    class Refunded(Aggregate.Event):
        amount: Decimal
        reference: str
        actor_id: str
        request_id: str

    @event(Refunded)
    def _refunded(self, *, amount: Decimal, reference: str, actor_id: str, request_id: str) -> None:
        self.state = S.REFUNDED
        self.refunded_amount = amount

    # -- the end --------------------------------------------------------------------------------------

    @property
    def can_complete(self) -> bool:
        if not self.dvp:
            return self.state is (S.TOKEN_TRANSFERRED if self.is_buy else S.PAYMENT_CONFIRMED)
        return self.state is (S.DEALER_PAID if self.is_buy else S.TOKEN_TRANSFERRED)

    def complete(self, *, actor_id: str, request_id: str) -> bool:
        """Done; a SELL's proceeds less fees are credited to the investor from clearing as it completes."""
        if not self.can_complete:
            return False
        if self.dvp and not self.is_buy:
            self._proceeds_credited(
                amount=self.consideration,
                fee=self.fee,
                gross=self.gross,
                actor_id=actor_id,
                request_id=request_id,
            )
        self._completed(
            payment_reference=self.payment_reference or "",
            tx_hash=self.tx_hash or "",
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class ProceedsCredited(Aggregate.Event):
        amount: Decimal
        fee: Decimal
        gross: Decimal
        actor_id: str
        request_id: str

    @event(ProceedsCredited)
    def _proceeds_credited(
        self, *, amount: Decimal, fee: Decimal, gross: Decimal, actor_id: str, request_id: str
    ) -> None:
        pass

    class Completed(Aggregate.Event):
        payment_reference: str
        tx_hash: str
        actor_id: str
        request_id: str

    @event(Completed)
    def _completed(self, *, payment_reference: str, tx_hash: str, actor_id: str, request_id: str) -> None:
        self.state = S.COMPLETED

    @property
    def can_fail(self) -> bool:
        """Nothing delivered and every cash movement undone (or about to be, as the settlement fails)."""
        if not self.dvp:
            return self.state in ((S.PAYMENT_FAILED, S.REFUNDED) if self.is_buy else (S.TOKEN_FAILED,))
        ends = (S.HOLD_FAILED, S.HOLD_RELEASED, S.TOKEN_FAILED if self.is_buy else S.DEALER_REFUNDED)
        return self.state in ends

    @property
    def returns_cash(self) -> bool:
        """Failing now gives the investor's cash back from clearing (a BUY whose tokens did not arrive)."""
        return self.dvp and self.is_buy and self.state is S.TOKEN_FAILED

    def fail(self, *, actor_id: str, request_id: str) -> bool:
        if not self.can_fail:
            return False
        if self.returns_cash:
            self._cash_returned(amount=self.consideration, actor_id=actor_id, request_id=request_id)
        self._failed(
            trade_id=self.trade_id,
            code=self.failure_code or "BF-INT-001",
            reason=self.reason or "settlement failed",
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class CashReturned(Aggregate.Event):
        amount: Decimal
        actor_id: str
        request_id: str

    @event(CashReturned)
    def _cash_returned(self, *, amount: Decimal, actor_id: str, request_id: str) -> None:
        self.refunded_amount = amount

    class Failed(Aggregate.Event):
        trade_id: str
        code: str
        reason: str
        actor_id: str
        request_id: str

    @event(Failed)
    def _failed(self, *, trade_id: str, code: str, reason: str, actor_id: str, request_id: str) -> None:
        self.state = S.FAILED
        self._clear_deadline()

    # -- deadlines, breaks and operators ---------------------------------------------------------------

    @property
    def current_step(self) -> str | None:
        return self.broken_step if self.state is S.BROKEN else self.deadline_step

    def expire(self, *, now: datetime, forced_by: str | None = None, actor_id: str, request_id: str) -> bool:
        """The current step's deadline passed (or an operator force-cancels it): once per step attempt."""
        step = self.current_step
        if step is None or self.terminal or f"{step}:{self.attempt}" in self.expired:
            return False
        if forced_by is None and (
            self.deadline_at is None or now < self.deadline_at or self.state is S.BROKEN
        ):
            return False
        self._deadline_expired(
            step=step, forced_by=forced_by, expired_at=now, actor_id=actor_id, request_id=request_id
        )
        return True

    class DeadlineExpired(Aggregate.Event):
        step: str
        forced_by: str | None
        expired_at: datetime
        actor_id: str
        request_id: str

    @event(DeadlineExpired)
    def _deadline_expired(
        self, *, step: str, forced_by: str | None, expired_at: datetime, actor_id: str, request_id: str
    ) -> None:
        self.expired.add(f"{step}:{self.attempt}")
        self.state = STEP_STATES[step]
        self.broken_step = None
        self.deadline_at = None

    def raise_break(self, *, step: str, reason: str, actor_id: str, request_id: str) -> bool:
        """The step's provider stayed unavailable, or an obligation (a payout after delivery) failed: park it
        for an operator, whether or not its deadline has passed."""
        legacy_unpaid_sell = not self.dvp and not self.is_buy and self.state is S.PAYMENT_FAILED
        if self.state is S.BROKEN or not (self.at_step(step) or legacy_unpaid_sell):
            return False
        self._break_raised(step=step, reason=reason, actor_id=actor_id, request_id=request_id)
        return True

    class BreakRaised(Aggregate.Event):
        step: str
        reason: str
        actor_id: str
        request_id: str

    @event(BreakRaised)
    def _break_raised(self, *, step: str, reason: str, actor_id: str, request_id: str) -> None:
        self.state = S.BROKEN
        self.broken_step = step
        self.reason = reason
        self.deadline_at = None

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

    class RetryRequested(Aggregate.Event):
        step: str
        attempt: int
        deadline_at: datetime
        actor_id: str
        request_id: str

    @event(RetryRequested)
    def _retry_requested(
        self, *, step: str, attempt: int, deadline_at: datetime, actor_id: str, request_id: str
    ) -> None:
        self.state = STEP_STATES[step]
        self.attempt = attempt
        self.broken_step = None
        self._set_deadline(step, deadline_at)

    @property
    def force_cancellable(self) -> bool:
        """Only where undoing is possible: nothing is undone once the tokens are delivered."""
        step = self.current_step
        if self.terminal or step is None:
            return False
        if not self.dvp:
            return step in (PAYMENT_STEP, TOKEN_STEP) and (self.is_buy or step == TOKEN_STEP)
        return step in CANCELLABLE

    # -- helpers --------------------------------------------------------------------------------------

    def cancelling(self, step: str, at_deadline: bool) -> bool:
        """Whether a failure of `step` reported from elsewhere than its deadline is to be ignored: once this
        attempt's deadline (or an operator's force-cancel) is recorded, the deadline handler cancels the leg at
        the provider and reports the failure with the deadline's code. A poll that sees the provider's side of
        that cancellation first (a released hold, a cancelled payment) must not record it as a rejection."""
        return not at_deadline and f"{step}:{self.attempt}" in self.expired

    def at_step(self, step: str) -> bool:
        return self.state is STEP_STATES[step] or (self.state is S.BROKEN and self.broken_step == step)

    def _set_deadline(self, step: str, deadline_at: datetime) -> None:
        self.deadline_step = step
        self.deadline_at = deadline_at

    def _clear_deadline(self) -> None:
        self.deadline_step = None
        self.deadline_at = None

    def _failure(self, code: str, reason: str) -> None:
        self.failure_code = code
        self.reason = reason
        self._clear_deadline()
