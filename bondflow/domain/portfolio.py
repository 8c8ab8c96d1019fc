"""The Portfolio aggregate: an investor's units per ISIN, held and committed, for SELL reservations and
exposure limits. Pure. Event class paths (`bondflow.domain.portfolio:Portfolio.…`) are stored data.

- `held`: settled units (credited and debited by settlement);
- `pending_buy`: units of accepted BUY orders not yet settled or released (they count towards limits);
- `reserved_sell`: held units promised to accepted SELL orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.ids import derived_id
from bondflow.errors import InsufficientFunds

ZERO = Decimal(0)


def portfolio_id(user_id: str) -> UUID:
    return derived_id("portfolio", user_id)


@dataclass
class Position:
    isin: str
    issuer: str
    rating_bucket: str
    duration_bucket: str
    face_value: Decimal
    held: Decimal = ZERO
    pending_buy: Decimal = ZERO
    reserved_sell: Decimal = ZERO
    pending_by_order: dict[str, Decimal] = field(default_factory=dict)
    reserved_by_order: dict[str, Decimal] = field(default_factory=dict)

    @property
    def exposure_units(self) -> Decimal:
        return self.held + self.pending_buy

    @property
    def free_units(self) -> Decimal:
        return self.held - self.reserved_sell


class Portfolio(Aggregate):
    class Opened(Aggregate.Created):
        user_id: str

    @event(Opened)
    def __init__(self, *, id: UUID, user_id: str) -> None:
        self.user_id = user_id
        self.positions: dict[str, Position] = {}

    @classmethod
    def open(cls, user_id: str) -> Portfolio:
        return cls(id=portfolio_id(user_id), user_id=user_id)

    def exposure(self) -> list[Position]:
        return [p for p in self.positions.values() if p.exposure_units > 0]

    def free_units(self, isin: str) -> Decimal:
        position = self.positions.get(isin)
        return ZERO if position is None else position.free_units

    def commit_buy(
        self,
        *,
        order_id: str,
        isin: str,
        qty: Decimal,
        issuer: str,
        rating_bucket: str,
        duration_bucket: str,
        face_value: Decimal,
    ) -> None:
        self._buy_committed(
            order_id=order_id,
            isin=isin,
            qty=qty,
            issuer=issuer,
            rating_bucket=rating_bucket,
            duration_bucket=duration_bucket,
            face_value=face_value,
        )

    class BuyCommitted(Aggregate.Event):
        order_id: str
        isin: str
        qty: Decimal
        issuer: str
        rating_bucket: str
        duration_bucket: str
        face_value: Decimal

    @event(BuyCommitted)
    def _buy_committed(
        self,
        *,
        order_id: str,
        isin: str,
        qty: Decimal,
        issuer: str,
        rating_bucket: str,
        duration_bucket: str,
        face_value: Decimal,
    ) -> None:
        position = self.positions.setdefault(
            isin, Position(isin, issuer, rating_bucket, duration_bucket, face_value)
        )
        position.pending_buy += qty
        position.pending_by_order[order_id] = position.pending_by_order.get(order_id, ZERO) + qty

    def release_buy(self, *, order_id: str, isin: str, qty: Decimal | None = None) -> None:
        """Release pending BUY units (all that remain for the order when `qty` is None); idempotent."""
        position = self.positions.get(isin)
        remaining = ZERO if position is None else position.pending_by_order.get(order_id, ZERO)
        amount = remaining if qty is None else min(qty, remaining)
        if amount > 0:
            self._buy_released(order_id=order_id, isin=isin, qty=amount)

    class BuyReleased(Aggregate.Event):
        order_id: str
        isin: str
        qty: Decimal

    @event(BuyReleased)
    def _buy_released(self, *, order_id: str, isin: str, qty: Decimal) -> None:
        position = self.positions[isin]
        position.pending_buy -= qty
        position.pending_by_order[order_id] -= qty
        if position.pending_by_order[order_id] == 0:
            del position.pending_by_order[order_id]

    def reserve_units(self, *, order_id: str, isin: str, qty: Decimal) -> None:
        free = self.free_units(isin)
        if free < qty:
            raise InsufficientFunds(
                "not enough unreserved holdings for this SELL",
                {"isin": isin, "available_units": str(free), "required_units": str(qty)},
            )
        self._units_reserved(order_id=order_id, isin=isin, qty=qty)

    class UnitsReserved(Aggregate.Event):
        order_id: str
        isin: str
        qty: Decimal

    @event(UnitsReserved)
    def _units_reserved(self, *, order_id: str, isin: str, qty: Decimal) -> None:
        position = self.positions[isin]
        position.reserved_sell += qty
        position.reserved_by_order[order_id] = position.reserved_by_order.get(order_id, ZERO) + qty

    def release_units(self, *, order_id: str, isin: str, qty: Decimal | None = None) -> None:
        position = self.positions.get(isin)
        remaining = ZERO if position is None else position.reserved_by_order.get(order_id, ZERO)
        amount = remaining if qty is None else min(qty, remaining)
        if amount > 0:
            self._units_released(order_id=order_id, isin=isin, qty=amount)

    class UnitsReleased(Aggregate.Event):
        order_id: str
        isin: str
        qty: Decimal

    @event(UnitsReleased)
    def _units_released(self, *, order_id: str, isin: str, qty: Decimal) -> None:
        position = self.positions[isin]
        position.reserved_sell -= qty
        position.reserved_by_order[order_id] -= qty
        if position.reserved_by_order[order_id] == 0:
            del position.reserved_by_order[order_id]

    def settle_buy(self, *, order_id: str, trade_id: str, isin: str, qty: Decimal) -> None:
        """A BUY fill settled: its units leave `pending_buy` and become held (the settlement saga)."""
        self._buy_settled(order_id=order_id, trade_id=trade_id, isin=isin, qty=qty)

    class BuySettled(Aggregate.Event):
        order_id: str
        trade_id: str
        isin: str
        qty: Decimal

    @event(BuySettled)
    def _buy_settled(self, *, order_id: str, trade_id: str, isin: str, qty: Decimal) -> None:
        position = self.positions[isin]
        pending = position.pending_by_order.get(order_id, ZERO)
        taken = min(qty, pending)
        position.pending_buy -= taken
        if pending - taken > 0:
            position.pending_by_order[order_id] = pending - taken
        else:
            position.pending_by_order.pop(order_id, None)
        position.held += qty

    def settle_sell(self, *, order_id: str, trade_id: str, isin: str, qty: Decimal) -> None:
        """A SELL fill settled: its reserved units leave the portfolio (the settlement saga)."""
        self._sell_settled(order_id=order_id, trade_id=trade_id, isin=isin, qty=qty)

    class SellSettled(Aggregate.Event):
        order_id: str
        trade_id: str
        isin: str
        qty: Decimal

    @event(SellSettled)
    def _sell_settled(self, *, order_id: str, trade_id: str, isin: str, qty: Decimal) -> None:
        position = self.positions[isin]
        reserved = position.reserved_by_order.get(order_id, ZERO)
        taken = min(qty, reserved)
        position.reserved_sell -= taken
        if reserved - taken > 0:
            position.reserved_by_order[order_id] = reserved - taken
        else:
            position.reserved_by_order.pop(order_id, None)
        position.held -= qty
