"""The Order aggregate: placed, accepted or rejected, cancelled. Pure: no I/O, no clock of its own.

Event class paths (`bondflow.domain.orders:Order.OrderPlaced`, …) are stored data: never move or rename them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.errors import OrderNotCancellable


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

    @event("OrderPlaced")
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

    @property
    def order_id(self) -> UUID:
        return self.id

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty

    def accept(self, *, actor_id: str, request_id: str) -> None:
        self._accepted(actor_id=actor_id, request_id=request_id)

    @event("OrderAccepted")
    def _accepted(self, *, actor_id: str, request_id: str) -> None:
        self.status = OrderStatus.PENDING

    def reject(
        self, *, code: str, reason: str, details: dict[str, Any], actor_id: str, request_id: str
    ) -> None:
        self._rejected(code=code, reason=reason, details=details, actor_id=actor_id, request_id=request_id)

    @event("OrderRejected")
    def _rejected(
        self, *, code: str, reason: str, details: dict[str, Any], actor_id: str, request_id: str
    ) -> None:
        self.status = OrderStatus.REJECTED
        self.reasons.append(f"{code}: {reason}")

    def cancel(self, *, reason: str, request_fingerprint: str | None, actor_id: str, request_id: str) -> None:
        if self.status not in CANCELLABLE:
            raise OrderNotCancellable(
                f"order is {self.status} and can no longer be cancelled",
                {"order_id": str(self.id), "status": str(self.status)},
            )
        self._cancelled(
            reason=reason, request_fingerprint=request_fingerprint, actor_id=actor_id, request_id=request_id
        )

    @event("OrderCancelled")
    def _cancelled(
        self, *, reason: str, request_fingerprint: str | None, actor_id: str, request_id: str
    ) -> None:
        self.status = OrderStatus.CANCELLED
        self.cancel_fingerprint = request_fingerprint
        self.reasons.append(reason)
