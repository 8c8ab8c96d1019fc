"""Order commands: place and cancel. Load → call the aggregate → save → return ids and position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from bondflow.clock import Clock
from bondflow.domain.ids import derived_id
from bondflow.domain.orders import Order
from bondflow.domain.values import CleanPrice, Isin, Quantity, Side
from bondflow.errors import IdempotencyKeyReused, InvalidOrder, InvalidRequest, NotFound
from bondflow.eventstore import EventStore, position_of
from commands.context import Accepted, CommandContext
from commands.idempotency import InFlightGuard, check_key, fingerprint, require_key

PLACE_ROUTE = "POST /v1/orders"
PLACE_FIELDS = {"isin", "side", "qty", "limit_clean_price"}
FIRST_COMMAND_VERSION = 2  # OrderPlaced + OrderAccepted/OrderRejected are saved together


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    isin: Isin
    side: Side
    qty: Quantity
    limit_clean_price: CleanPrice | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> PlaceOrder:
        extra = sorted(set(body) - PLACE_FIELDS)
        if extra:
            raise InvalidRequest(
                f"unknown fields: {', '.join(extra)}", {"fields": dict.fromkeys(extra, "not allowed")}
            )
        missing = sorted({"isin", "side", "qty"} - set(body))
        if missing:
            raise InvalidRequest(
                f"missing fields: {', '.join(missing)}", {"fields": dict.fromkeys(missing, "required")}
            )
        raw_price = body.get("limit_clean_price")
        return cls(
            isin=Isin.parse(body["isin"], refusal=InvalidOrder),
            side=Side.parse(body["side"]),
            qty=Quantity.parse(body["qty"], refusal=InvalidOrder),
            limit_clean_price=None
            if raw_price is None
            else CleanPrice.parse(raw_price, refusal=InvalidOrder),
        )

    def normalised(self) -> dict[str, str | None]:
        price = self.limit_clean_price
        return {
            "isin": self.isin.value,
            "side": self.side.value,
            "qty": str(self.qty.value),
            "limit_clean_price": None if price is None else str(price.value),
        }


class OrderCommands:
    def __init__(self, store: EventStore, guard: InFlightGuard, clock: Clock) -> None:
        self.store = store
        self.guard = guard
        self.clock = clock

    def place(self, command: PlaceOrder, ctx: CommandContext) -> Accepted:
        key = require_key(ctx.idempotency_key)
        request_fingerprint = fingerprint(PLACE_ROUTE, command.normalised())
        order_id = derived_id("order", ctx.actor_id, key)
        with self.guard.hold("orders", ctx.actor_id, key):
            replay = self._replay_of(order_id, request_fingerprint)
            if replay is not None:
                return replay
            order = Order(
                id=order_id,
                user_id=ctx.actor_id,
                isin=command.isin.value,
                side=command.side.value,
                qty=command.qty.value,
                limit_clean_price=None
                if command.limit_clean_price is None
                else command.limit_clean_price.value,
                placed_at=self.clock.now(),
                request_fingerprint=request_fingerprint,
                actor_id=ctx.actor_id,
                request_id=ctx.request_id,
            )
            # Until pre-trade checks exist (trading issue), a well-formed order is accepted.
            order.accept(actor_id=ctx.actor_id, request_id=ctx.request_id)
            try:
                position = self.store.save_and_position(order)
            except IntegrityError:  # another process won the race for this key: answer as its replay
                replay = self._replay_of(order_id, request_fingerprint)
                if replay is None:  # pragma: no cover - the collision means the order exists
                    raise
                return replay
        return Accepted({"order_id": str(order_id), "status": order.status.value}, position)

    def _replay_of(self, order_id: UUID, request_fingerprint: str) -> Accepted | None:
        try:
            original: Order = self.store.repository.get(order_id, version=FIRST_COMMAND_VERSION)
        except AggregateNotFoundError:
            return None
        if not isinstance(original, Order):  # pragma: no cover - ids are namespaced by kind
            raise IdempotencyKeyReused("this Idempotency-Key belongs to another resource")
        if original.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different request body",
                {"order_id": str(order_id)},
            )
        position = position_of(self.store, order_id, FIRST_COMMAND_VERSION) or 0
        data = {"order_id": str(order_id), "status": original.status.value}
        return Accepted(data, position, replayed=True)

    def cancel(self, order_id: UUID, ctx: CommandContext) -> Accepted:
        key = None if ctx.idempotency_key is None else check_key(ctx.idempotency_key)
        request_fingerprint = None if key is None else fingerprint(f"POST /v1/orders/{order_id}/cancel", {})
        for _attempt in range(3):
            order = self._load_own(order_id, ctx)
            if key is not None and order.cancel_fingerprint == request_fingerprint:
                position = position_of(self.store, order_id, order.version) or 0
                return Accepted({"order_id": str(order_id), "status": order.status.value}, position, True)
            order.cancel(
                reason="cancelled by investor",
                request_fingerprint=request_fingerprint,
                actor_id=ctx.actor_id,
                request_id=ctx.request_id,
            )
            try:
                position = self.store.save_and_position(order)
            except IntegrityError:  # a concurrent change to this order: decide again on fresh state
                continue
            return Accepted({"order_id": str(order_id), "status": order.status.value}, position)
        raise InvalidRequest("order is changing concurrently; retry", {"order_id": str(order_id)})

    def _load_own(self, order_id: UUID, ctx: CommandContext) -> Order:
        try:
            order: Order = self.store.repository.get(order_id)
        except AggregateNotFoundError:
            raise NotFound("order not found", {"order_id": str(order_id)}) from None
        if not isinstance(order, Order) or order.user_id != ctx.actor_id:
            raise NotFound("order not found", {"order_id": str(order_id)})
        return order
