"""The settlement commands: each loads a `Settlement`, applies one transition and saves it in one
transaction with what the transition moves (escrow, order, portfolio, trade). A settlement not in the
state a command needs records nothing, so every command is safe to repeat.

The book entries happen here, never at a provider: the BUY consideration into clearing (topping the
order's reservation up from `available` for stamp duty), a SELL's proceeds less fees at completion, and a
failed BUY's cash back from clearing. What a provider does (holds, payouts) the effect workers do and
report through the methods of the second half."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from bondflow.domain.orders import Order
from bondflow.domain.portfolio import Portfolio, portfolio_id
from bondflow.domain.settlement import PAYMENT_STEP, PAYOUT_STEP, REFUND_STEP, Settlement, SettlementState
from bondflow.domain.trades import Trade
from bondflow.errors import InsufficientFunds, NotFound, SettlementNotCancellable
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore
from bondflow.saga import decide as d
from commands.kernel.conflicts import decide_and_save
from commands.payments.escrow import EscrowService

log = logging.getLogger(__name__)

SAGA = "system:settlement"
Change = Callable[[Settlement], list[Aggregate] | None]
CASH_STEPS = frozenset({PAYMENT_STEP, PAYOUT_STEP, REFUND_STEP})


class SettlementCommands:
    def __init__(
        self,
        store: EventStore,
        escrow: EscrowService,
        clock: Clock,
        *,
        payment_timeout: timedelta,
        token_timeout: timedelta,
    ) -> None:
        self.store = store
        self.escrow = escrow
        self.clock = clock
        self.payment_timeout = payment_timeout
        self.token_timeout = token_timeout
        # a hold outlives every step that may come before its execution, retries included
        self.hold_lifetime = 2 * (payment_timeout + token_timeout)

    def get(self, sid: UUID) -> Settlement:
        try:
            found: Settlement = self.store.repository.get(sid)
        except AggregateNotFoundError:
            raise NotFound("settlement not found", {"settlement_id": str(sid)}) from None
        return found

    def side_of(self, sid: UUID) -> str:
        return side_of(self.store, sid)

    # -- the saga's commands --------------------------------------------------------------------------

    def execute(self, command: d.Command) -> bool:
        """Apply one decided command; True when something was recorded."""
        if isinstance(command, d.StartSettlement):
            return self.start(command)
        if isinstance(command, d.RaiseBreak):
            return self.raise_break(command.settlement_id, command.step, command.reason)
        rid = f"saga:{command.settlement_id}"
        book: dict[type[Any], Change] = {
            d.ClearInvestorCash: self._clear_investor_cash,
            d.CompleteSettlement: self._complete,
            d.FailSettlement: self._fail,
        }
        if type(command) in book:
            return self.change(command.settlement_id, book[type(command)])
        pay, chain = self.payment_timeout, self.token_timeout
        steps: dict[type[Any], tuple[str, timedelta]] = {
            d.InstructPayment: ("instruct_payment", pay),
            d.RequestTokenTransfer: ("request_token_transfer", chain),
            d.InstructPayout: ("instruct_payout", pay),
            d.ReleaseHold: ("request_release", chain),
            d.InstructRefund: ("instruct_refund", pay),
        }
        if isinstance(command, d.RequestHold):
            due, expires = self._due(chain), self._due(self.hold_lifetime)
            return self.record(
                command.settlement_id,
                lambda s: s.request_hold(expires_at=expires, deadline_at=due, actor_id=SAGA, request_id=rid),
            )
        method, timeout = steps[type(command)]
        at = self._due(timeout)
        return self.record(
            command.settlement_id,
            lambda s: bool(getattr(s, method)(deadline_at=at, actor_id=SAGA, request_id=rid)),
        )

    def start(self, c: d.StartSettlement) -> bool:
        settlement = Settlement.start(
            trade_id=c.trade_id,
            order_id=c.order_id,
            user_id=c.user_id,
            isin=c.isin,
            side=c.side,
            dealer=c.dealer,
            qty=c.qty,
            terms=c.terms,
            actor_id=SAGA,
            request_id=f"trade:{c.trade_id}",
        )
        try:
            self.store.save(settlement)
        except IntegrityError:
            return False  # already started: a redelivered TradeExecuted
        return True

    # -- the effect workers' reports ------------------------------------------------------------------

    def report(self, sid: UUID, transition: str, request_id: str, **facts: Any) -> bool:
        """Record a provider's outcome: `transition` is the Settlement method (`hold_placed`, `fail_hold`,
        `confirm_payment`, `fail_payment`, `token_transferred`, `fail_token_transfer`, `hold_released`,
        `confirm_payout`, `confirm_refund`), `facts` its arguments."""
        return self.record(
            sid, lambda s: bool(getattr(s, transition)(**facts, actor_id=SAGA, request_id=request_id))
        )

    def confirm_payment(self, sid: UUID, reference: str, request_id: str) -> bool:
        return self.report(sid, "confirm_payment", request_id, reference=reference)

    def token_transferred(self, sid: UUID, tx_hash: str, request_id: str) -> bool:
        return self.report(sid, "token_transferred", request_id, tx_hash=tx_hash)

    def raise_break(self, sid: UUID, step: str, reason: str) -> bool:
        rid = f"break:{sid}:{step}"
        return self.record(
            sid, lambda s: s.raise_break(step=step, reason=reason, actor_id=SAGA, request_id=rid)
        )

    # -- deadlines and operators ----------------------------------------------------------------------

    def expire(self, sid: UUID, now: datetime) -> bool:
        rid = f"deadline:{sid}"
        return self.record(sid, lambda s: s.expire(now=now, actor_id=SAGA, request_id=rid))

    def retry(self, sid: UUID, operator: str, request_id: str) -> bool:
        def change(s: Settlement) -> bool:
            timeout = self.payment_timeout if s.broken_step in CASH_STEPS else self.token_timeout
            return s.retry(deadline_at=self._due(timeout), actor_id=operator, request_id=request_id)

        return self.record(sid, change)

    def force_cancel(self, sid: UUID, operator: str, request_id: str) -> bool:
        def change(s: Settlement) -> bool:
            if not s.force_cancellable:
                raise SettlementNotCancellable(
                    f"a settlement in state {s.state} cannot be force-cancelled",
                    {"settlement_id": str(sid), "state": s.state.value},
                )
            now = self.clock.now()
            return s.expire(now=now, forced_by=operator, actor_id=operator, request_id=request_id)

        return self.record(sid, change)

    # -- transitions that move money, units and orders ------------------------------------------------

    def _clear_investor_cash(self, s: Settlement) -> list[Aggregate] | None:
        """BUY: debit the order's reservation for the whole consideration, stamp duty included."""
        if s.state is not SettlementState.HOLD_PLACED or not s.is_buy:
            return None
        rid = f"clear:{s.trade_id}"
        account = self.escrow.load(s.user_id, actor_id=SAGA, request_id=rid)
        shortfall = s.consideration - account.reserved_for(s.order_id)
        try:
            if shortfall > 0:
                account.reserve(s.order_id, shortfall, actor_id=SAGA, request_id=rid)
            account.debit(s.order_id, s.consideration, s.trade_id, actor_id=SAGA, request_id=rid)
        except InsufficientFunds as short:
            recorded = s.fail_payment(code=short.code, reason=short.message, actor_id=SAGA, request_id=rid)
            return [] if recorded else None
        if not s.clear_investor_cash(actor_id=SAGA, request_id=rid):
            return None
        return [account]

    def _complete(self, s: Settlement) -> list[Aggregate] | None:
        rid = f"settle:{s.trade_id}"
        if not s.complete(actor_id=SAGA, request_id=rid):
            return None
        trade: Trade = self.store.repository.get(UUID(s.trade_id))
        trade.settle(
            settlement_id=str(s.id),
            payment_reference=s.payment_reference or "",
            tx_hash=s.tx_hash or "",
            actor_id=SAGA,
            request_id=rid,
        )
        order: Order = self.store.repository.get(UUID(s.order_id))
        order.record_settlement(trade_id=s.trade_id, settled=True, actor_id=SAGA, request_id=rid)
        portfolio = self._portfolio(s.user_id)
        settle = portfolio.settle_buy if s.is_buy else portfolio.settle_sell
        settle(order_id=s.order_id, trade_id=s.trade_id, isin=s.isin, qty=s.qty)
        changed: list[Aggregate] = [trade, order, portfolio]
        if s.dvp and not s.is_buy:  # the proceeds less fees, from clearing
            account = self.escrow.load(s.user_id, actor_id=SAGA, request_id=rid)
            reference = f"sale:{s.trade_id}"
            account.credit(reference, s.consideration, "sale proceeds", actor_id=SAGA, request_id=rid)
            changed.append(account)
        return changed

    def _fail(self, s: Settlement) -> list[Aggregate] | None:
        rid = f"fail:{s.trade_id}"
        paid, returns_cash = s.paid, s.returns_cash
        if not s.fail(actor_id=SAGA, request_id=rid):
            return None
        order: Order = self.store.repository.get(UUID(s.order_id))
        order.record_settlement(trade_id=s.trade_id, settled=False, actor_id=SAGA, request_id=rid)
        portfolio = self._portfolio(s.user_id)
        changed: list[Aggregate] = [order, portfolio]
        if not s.is_buy:
            portfolio.release_units(order_id=s.order_id, isin=s.isin, qty=s.qty)
            return changed
        portfolio.release_buy(order_id=s.order_id, isin=s.isin, qty=s.qty)
        account = self.escrow.load(s.user_id, actor_id=SAGA, request_id=rid)
        if returns_cash:  # the consideration comes back from clearing
            account.credit(
                f"return:{s.trade_id}", s.consideration, "settlement failed", actor_id=SAGA, request_id=rid
            )
        elif not paid:  # still reserved: what the execution kept for this trade
            kept = s.gross + s.fee if s.dvp else s.consideration
            account.release(s.order_id, kept, actor_id=SAGA, request_id=rid)
        changed.append(account)
        return changed

    def _portfolio(self, user_id: str) -> Portfolio:
        try:
            found: Portfolio = self.store.repository.get(portfolio_id(user_id))
        except AggregateNotFoundError:
            return Portfolio.open(user_id)
        return found

    def _due(self, timeout: timedelta) -> datetime:
        return self.clock.now() + timeout

    def record(self, sid: UUID, transition: Callable[[Settlement], bool]) -> bool:
        """A transition that changes the settlement alone."""
        return self.change(sid, lambda s: [] if transition(s) else None)

    def change(self, sid: UUID, change: Change) -> bool:
        """Load, decide, save in one transaction; on a concurrent change, decide again on fresh state."""

        def attempt() -> bool:
            settlement = self.get(sid)
            others = change(settlement)
            if others is None:
                return False
            self.store.save(settlement, *others)
            return True

        return decide_and_save(attempt, what="the settlement", details={"settlement_id": str(sid)})


def side_of(store: EventStore, sid: UUID) -> str:
    settlement: Any = store.repository.get(sid)
    return str(settlement.side)
