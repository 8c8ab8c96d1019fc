"""The Order aggregate: placed, accepted or rejected, cancelled. Pure: no I/O, no clock of its own.

Event class paths (`bondflow.domain.orders:Order.OrderPlaced`, …) are stored data: never move or rename them.

Why this module is over 300 lines (STYLE.md): an aggregate's event classes are stored topics
(`module:Aggregate.Event`), so the aggregate, its explicit event classes and the methods that record
them stay together in this one class body; helpers that record nothing live in sibling modules.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.errors import Inconsistency, OrderNotCancellable


class OrderStatus(StrEnum):
    NEW = "NEW"
    PENDING = "PENDING"
    PARTIAL = "PARTIAL"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


CANCELLABLE = frozenset({OrderStatus.NEW, OrderStatus.PENDING})


class Order(Aggregate):
    """One investor order for one ISIN. Every event records who acted and for which request."""

    class OrderPlaced(Aggregate.Created):
        user_id: str
        isin: str
        side: str
        qty: Decimal
        limit_clean_price: Decimal | None
        placed_at: datetime
        request_fingerprint: str
        actor_id: str
        request_id: str

    @event(OrderPlaced)
    def __init__(
        self,
        *,
        id: UUID,
        user_id: str,
        isin: str,
        side: str,
        qty: Decimal,
        limit_clean_price: Decimal | None,
        placed_at: datetime,
        request_fingerprint: str,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.user_id = user_id
        self.isin = isin
        self.side = side
        self.qty = qty
        self.limit_clean_price = limit_clean_price
        self.placed_at = placed_at
        self.request_fingerprint = request_fingerprint
        self.status = OrderStatus.NEW
        self.filled_qty = Decimal(0)
        self.reasons: list[str] = []
        self.cancel_fingerprint: str | None = None
        self.rejection: dict[str, Any] | None = None
        self.routed = False
        self.fills: list[dict[str, Any]] = []
        self.cancelled_qty = Decimal(0)
        self.price_cap: Decimal | None = None
        self.reserved: Decimal | None = None
        self.placement_version: int | None = None  # the version that answered the placement command

    @property
    def order_id(self) -> UUID:
        return self.id

    @property
    def remaining_qty(self) -> Decimal:
        """Units neither filled nor cancelled."""
        return self.qty - self.filled_qty - self.cancelled_qty

    def accept(
        self,
        *,
        price_cap: Decimal | None = None,
        reserved: Decimal | None = None,
        actor_id: str,
        request_id: str,
    ) -> None:
        """Every pre-trade check passed: `price_cap` is the worst clean price it may trade at and `reserved`
        the escrow held for a BUY (maximum consideration with fees)."""
        self._accepted(price_cap=price_cap, reserved=reserved, actor_id=actor_id, request_id=request_id)

    class OrderAccepted(Aggregate.Event):
        price_cap: Decimal | None
        reserved: Decimal | None
        actor_id: str
        request_id: str

    @event(OrderAccepted)
    def _accepted(
        self,
        *,
        price_cap: Decimal | None = None,
        reserved: Decimal | None = None,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.status = OrderStatus.PENDING
        self.price_cap = price_cap
        self.reserved = reserved
        self.placement_version = self.version + 1  # applied before the version moves on to this event's

    def reject(
        self, *, code: str, reason: str, details: dict[str, Any], actor_id: str, request_id: str
    ) -> None:
        self._rejected(code=code, reason=reason, details=details, actor_id=actor_id, request_id=request_id)

    class OrderRejected(Aggregate.Event):
        code: str
        reason: str
        details: dict[str, Any]
        actor_id: str
        request_id: str

    @event(OrderRejected)
    def _rejected(
        self, *, code: str, reason: str, details: dict[str, Any], actor_id: str, request_id: str
    ) -> None:
        self.status = OrderStatus.REJECTED
        self.reasons.append(f"{code}: {reason}")
        self.rejection = {"code": code, "reason": reason, "details": details}
        self.placement_version = self.version + 1

    @property
    def executable(self) -> bool:
        """Accepted and not yet routed: the investor may still cancel it."""
        return self.status is OrderStatus.PENDING and not self.routed

    @property
    def awaiting_execution(self) -> bool:
        """Accepted, and the RFQ has not yet filled or cancelled every unit."""
        return self.status is OrderStatus.PENDING and self.filled_qty + self.cancelled_qty < self.qty

    def route(
        self, *, rfq_id: str, dealers: list[str], price_cap: Decimal, actor_id: str, request_id: str
    ) -> None:
        """Send the order to dealers as an RFQ; from here on the investor can no longer cancel it."""
        if not self.executable:
            raise OrderNotCancellable(
                f"order is {self.status} and cannot be routed", {"order_id": str(self.id)}
            )
        self._routed(
            rfq_id=rfq_id,
            isin=self.isin,
            side=self.side,
            qty=self.qty,
            dealers=dealers,
            price_cap=price_cap,
            actor_id=actor_id,
            request_id=request_id,
        )

    class OrderRouted(Aggregate.Event):
        rfq_id: str
        isin: str
        side: str
        qty: Decimal
        dealers: list[str]
        price_cap: Decimal
        actor_id: str
        request_id: str

    @event(OrderRouted)
    def _routed(
        self,
        *,
        rfq_id: str,
        isin: str,
        side: str,
        qty: Decimal,
        dealers: list[str],
        price_cap: Decimal,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.routed = True

    def record_fill(
        self,
        *,
        trade_id: str,
        dealer: str,
        qty: Decimal,
        clean_price: Decimal,
        actor_id: str,
        request_id: str,
    ) -> None:
        if qty <= 0 or qty > self.remaining_qty:
            raise Inconsistency(f"fill of {qty} does not fit the order's remaining {self.remaining_qty}")
        complete = qty == self.remaining_qty
        record = self._filled if complete else self._partially_filled
        record(
            trade_id=trade_id,
            dealer=dealer,
            qty=qty,
            clean_price=clean_price,
            actor_id=actor_id,
            request_id=request_id,
        )

    class OrderPartiallyFilled(Aggregate.Event):
        trade_id: str
        dealer: str
        qty: Decimal
        clean_price: Decimal
        actor_id: str
        request_id: str

    @event(OrderPartiallyFilled)
    def _partially_filled(
        self,
        *,
        trade_id: str,
        dealer: str,
        qty: Decimal,
        clean_price: Decimal,
        actor_id: str,
        request_id: str,
    ) -> None:
        self._add_fill(trade_id, dealer, qty, clean_price)

    class OrderFilled(Aggregate.Event):
        trade_id: str
        dealer: str
        qty: Decimal
        clean_price: Decimal
        actor_id: str
        request_id: str

    @event(OrderFilled)
    def _filled(
        self,
        *,
        trade_id: str,
        dealer: str,
        qty: Decimal,
        clean_price: Decimal,
        actor_id: str,
        request_id: str,
    ) -> None:
        self._add_fill(trade_id, dealer, qty, clean_price)

    def _add_fill(self, trade_id: str, dealer: str, qty: Decimal, clean_price: Decimal) -> None:
        self.filled_qty += qty
        self.fills.append({"trade_id": trade_id, "dealer": dealer, "qty": qty, "clean_price": clean_price})

    def cancel_unfilled(self, *, reason: str, actor_id: str, request_id: str) -> None:
        """Immediate-or-cancel: whatever the RFQ did not fill is cancelled (the whole order if nothing filled)."""
        remainder = self.qty - self.filled_qty - self.cancelled_qty
        if remainder <= 0:
            return
        if self.filled_qty == 0:
            self._cancelled(reason=reason, request_fingerprint=None, actor_id=actor_id, request_id=request_id)
        else:
            self._remainder_cancelled(qty=remainder, reason=reason, actor_id=actor_id, request_id=request_id)

    class OrderRemainderCancelled(Aggregate.Event):
        qty: Decimal
        reason: str
        actor_id: str
        request_id: str

    @event(OrderRemainderCancelled)
    def _remainder_cancelled(self, *, qty: Decimal, reason: str, actor_id: str, request_id: str) -> None:
        self.cancelled_qty += qty
        self.reasons.append(reason)

    def record_settlement(self, *, trade_id: str, settled: bool, actor_id: str, request_id: str) -> bool:
        """A fill reached its terminal settlement state; once every fill has, the order is FILLED (all of it
        settled), PARTIAL (some settled) or CANCELLED (none settled). Idempotent per trade."""
        outcomes: dict[str, bool] = getattr(self, "settlements", {})
        fill = next((f for f in self.fills if f["trade_id"] == trade_id), None)
        if fill is None or trade_id in outcomes:
            return False
        done = {**outcomes, trade_id: settled}
        status = self.status
        if len(done) == len(self.fills) and self.remaining_qty == 0:
            settled_qty = sum((f["qty"] for f in self.fills if done[f["trade_id"]]), Decimal(0))
            if settled_qty == self.qty:
                status = OrderStatus.FILLED
            elif settled_qty > 0:
                status = OrderStatus.PARTIAL
            else:
                status = OrderStatus.CANCELLED
        self._settlement_recorded(
            trade_id=trade_id,
            settled=settled,
            qty=fill["qty"],
            status=status.value,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class SettlementRecorded(Aggregate.Event):
        trade_id: str
        settled: bool
        qty: Decimal
        status: str
        actor_id: str
        request_id: str

    @event(SettlementRecorded)
    def _settlement_recorded(
        self, *, trade_id: str, settled: bool, qty: Decimal, status: str, actor_id: str, request_id: str
    ) -> None:
        self.settlements = {**getattr(self, "settlements", {}), trade_id: settled}
        self.status = OrderStatus(status)

    def cancel(self, *, reason: str, request_fingerprint: str | None, actor_id: str, request_id: str) -> None:
        if self.status not in CANCELLABLE or self.routed:
            raise OrderNotCancellable(
                f"order is {'routed to dealers' if self.routed else self.status} and can no longer be cancelled",
                {"order_id": str(self.id), "status": str(self.status)},
            )
        self._cancelled(
            reason=reason, request_fingerprint=request_fingerprint, actor_id=actor_id, request_id=request_id
        )

    class OrderCancelled(Aggregate.Event):
        reason: str
        request_fingerprint: str | None
        actor_id: str
        request_id: str

    @event(OrderCancelled)
    def _cancelled(
        self, *, reason: str, request_fingerprint: str | None, actor_id: str, request_id: str
    ) -> None:
        self.status = OrderStatus.CANCELLED
        self.cancel_fingerprint = request_fingerprint
        self.reasons.append(reason)
