"""The settlement commands: each loads a `Settlement`, applies one transition and saves it in one
transaction with what the transition moves (escrow, order, portfolio, trade). A settlement not in the
state a command needs records nothing, so every command is safe to repeat."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from bondflow.clock import Clock
from bondflow.domain.orders import Order
from bondflow.domain.portfolio import Portfolio, portfolio_id
from bondflow.domain.settlement import PAYMENT_STEP, Settlement
from bondflow.domain.trades import Trade
from bondflow.errors import NotFound, SettlementNotCancellable
from bondflow.eventstore import EventStore
from bondflow.settlement import decide as d
from commands.escrow import EscrowService

log = logging.getLogger(__name__)

SAGA = "system:settlement"
Change = Callable[[Settlement], list[Aggregate] | None]


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

    def get(self, sid: UUID) -> Settlement:
        try:
            found: Settlement = self.store.repository.get(sid)
        except AggregateNotFoundError:
            raise NotFound("settlement not found", {"settlement_id": str(sid)}) from None
        return found

    # -- the saga's commands --------------------------------------------------------------------------

    def execute(self, command: d.Command) -> bool:
        """Apply one decided command; True when something was recorded."""
        sid = command.settlement_id
        rid = f"saga:{sid}"
        if isinstance(command, d.StartSettlement):
            return self.start(command)
        if isinstance(command, d.InstructPayment):
            return self.change(
                sid,
                lambda s: (
                    []
                    if s.instruct_payment(
                        deadline_at=self._due(self.payment_timeout), actor_id=SAGA, request_id=rid
                    )
                    else None
                ),
            )
        if isinstance(command, d.RequestTokenTransfer):
            return self.change(
                sid,
                lambda s: (
                    []
                    if s.request_token_transfer(
                        deadline_at=self._due(self.token_timeout), actor_id=SAGA, request_id=rid
                    )
                    else None
                ),
            )
        if isinstance(command, d.RequestRefund):
            return self.change(sid, lambda s: [] if s.request_refund(actor_id=SAGA, request_id=rid) else None)
        if isinstance(command, d.Refund):
            return self.change(sid, self._refund)
        if isinstance(command, d.CompleteSettlement):
            return self.change(sid, self._complete)
        if isinstance(command, d.FailSettlement):
            return self.change(sid, self._fail)
        if isinstance(command, d.RaiseBreak):
            return self.raise_break(sid, command.step, command.reason)
        raise TypeError(f"unknown settlement command {command!r}")  # pragma: no cover

    def start(self, c: d.StartSettlement) -> bool:
        settlement = Settlement.start(
            trade_id=c.trade_id,
            order_id=c.order_id,
            user_id=c.user_id,
            isin=c.isin,
            side=c.side,
            dealer=c.dealer,
            qty=c.qty,
            consideration=c.consideration,
            actor_id=SAGA,
            request_id=f"trade:{c.trade_id}",
        )
        try:
            self.store.save(settlement)
        except IntegrityError:
            return False  # already started: a redelivered TradeExecuted
        return True

    # -- the effect workers' reports ------------------------------------------------------------------

    def confirm_payment(self, sid: UUID, reference: str, request_id: str) -> bool:
        def change(s: Settlement) -> list[Aggregate] | None:
            if not s.confirm_payment(reference=reference, actor_id=SAGA, request_id=request_id):
                return None
            account = self.escrow.load(s.user_id, actor_id=SAGA, request_id=request_id)
            if s.is_buy:
                account.debit(s.order_id, s.consideration, s.trade_id, actor_id=SAGA, request_id=request_id)
            else:
                account.credit(
                    f"sale:{s.trade_id}",
                    s.consideration,
                    "sale proceeds",
                    actor_id=SAGA,
                    request_id=request_id,
                )
            return [account]

        return self.change(sid, change)

    def fail_payment(self, sid: UUID, code: str, reason: str, request_id: str) -> bool:
        return self.change(
            sid,
            lambda s: (
                [] if s.fail_payment(code=code, reason=reason, actor_id=SAGA, request_id=request_id) else None
            ),
        )

    def token_transferred(self, sid: UUID, tx_hash: str, request_id: str) -> bool:
        return self.change(
            sid,
            lambda s: (
                [] if s.token_transferred(tx_hash=tx_hash, actor_id=SAGA, request_id=request_id) else None
            ),
        )

    def fail_token_transfer(
        self, sid: UUID, code: str, reason: str, tx_hash: str | None, request_id: str
    ) -> bool:
        return self.change(
            sid,
            lambda s: (
                []
                if s.fail_token_transfer(
                    code=code, reason=reason, tx_hash=tx_hash, actor_id=SAGA, request_id=request_id
                )
                else None
            ),
        )

    def raise_break(self, sid: UUID, step: str, reason: str) -> bool:
        rid = f"break:{sid}:{step}"
        return self.change(
            sid,
            lambda s: [] if s.raise_break(step=step, reason=reason, actor_id=SAGA, request_id=rid) else None,
        )

    # -- deadlines and operators ----------------------------------------------------------------------

    def expire(self, sid: UUID, now: datetime) -> bool:
        rid = f"deadline:{sid}"
        return self.change(sid, lambda s: [] if s.expire(now=now, actor_id=SAGA, request_id=rid) else None)

    def retry(self, sid: UUID, operator: str, request_id: str) -> bool:
        def change(s: Settlement) -> list[Aggregate] | None:
            timeout = self.payment_timeout if s.broken_step == PAYMENT_STEP else self.token_timeout
            return (
                []
                if s.retry(deadline_at=self._due(timeout), actor_id=operator, request_id=request_id)
                else None
            )

        return self.change(sid, change)

    def force_cancel(self, sid: UUID, operator: str, request_id: str) -> bool:
        def change(s: Settlement) -> list[Aggregate] | None:
            if not s.force_cancellable:
                raise SettlementNotCancellable(
                    f"a settlement in state {s.state} cannot be force-cancelled",
                    {"settlement_id": str(sid), "state": s.state.value},
                )
            now = self.clock.now()
            return (
                []
                if s.expire(now=now, forced_by=operator, actor_id=operator, request_id=request_id)
                else None
            )

        return self.change(sid, change)

    # -- transitions that move money, units and orders ------------------------------------------------

    def _refund(self, s: Settlement) -> list[Aggregate] | None:
        rid = f"refund:{s.trade_id}"
        if not s.refund(reference=rid, actor_id=SAGA, request_id=rid):
            return None
        account = self.escrow.load(s.user_id, actor_id=SAGA, request_id=rid)
        account.credit(rid, s.consideration, "settlement refund", actor_id=SAGA, request_id=rid)
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
        return [trade, order, portfolio]

    def _fail(self, s: Settlement) -> list[Aggregate] | None:
        rid = f"fail:{s.trade_id}"
        paid = s.paid
        if not s.fail(actor_id=SAGA, request_id=rid):
            return None
        order: Order = self.store.repository.get(UUID(s.order_id))
        order.record_settlement(trade_id=s.trade_id, settled=False, actor_id=SAGA, request_id=rid)
        portfolio = self._portfolio(s.user_id)
        changed: list[Aggregate] = [order, portfolio]
        if s.is_buy:
            portfolio.release_buy(order_id=s.order_id, isin=s.isin, qty=s.qty)
            if not paid:
                account = self.escrow.load(s.user_id, actor_id=SAGA, request_id=rid)
                account.release(s.order_id, s.consideration, actor_id=SAGA, request_id=rid)
                changed.append(account)
        else:
            portfolio.release_units(order_id=s.order_id, isin=s.isin, qty=s.qty)
        return changed

    def _portfolio(self, user_id: str) -> Portfolio:
        try:
            found: Portfolio = self.store.repository.get(portfolio_id(user_id))
        except AggregateNotFoundError:
            return Portfolio.open(user_id)
        return found

    def _due(self, timeout: timedelta) -> datetime:
        return self.clock.now() + timeout

    def change(self, sid: UUID, change: Change) -> bool:
        """Load, decide, save in one transaction; on a concurrent change, decide again on fresh state."""
        for _attempt in range(10):
            settlement = self.get(sid)
            others = change(settlement)
            if others is None:
                return False
            try:
                self.store.save(settlement, *others)
            except IntegrityError:
                continue
            return True
        raise RuntimeError(f"settlement {sid} kept changing")


def side_of(store: EventStore, sid: UUID) -> str:
    settlement: Any = store.repository.get(sid)
    return str(settlement.side)
