"""Order commands: place and cancel. Load → call the aggregate → save → return ids and position."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from bondflow.clock import Clock, business_date
from bondflow.domain.ids import derived_id
from bondflow.domain.orders import Order
from bondflow.domain.policy import Requirement, check_attributes
from bondflow.domain.portfolio import Portfolio, portfolio_id
from bondflow.domain.pretrade import Limits, MarketFacts, OrderFacts, check_order
from bondflow.domain.values import CleanPrice, Isin, Quantity, Side
from bondflow.errors import (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InsufficientFunds,
    InvalidOrder,
    InvalidRequest,
    KycNotEligible,
    LimitBreached,
    NotFound,
    NotTradable,
    PriceOutsideBand,
    RecordedRefusal,
)
from bondflow.eventstore import EventStore, position_of
from commands.attributes import AttributeReader
from commands.context import Accepted, CommandContext
from commands.escrow import EscrowService
from commands.idempotency import InFlightGuard, check_key, fingerprint, require_key
from commands.market_data import MarketData

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


ERROR_STATUS = {
    cls.code: cls.status
    for cls in (KycNotEligible, NotTradable, PriceOutsideBand, LimitBreached, InsufficientFunds, InvalidOrder)
}


@dataclass(frozen=True)
class TradingRules:
    """Configuration the pre-trade checks read: limits, fees and the optional platform allowlist."""

    limits: Limits = field(default_factory=Limits)
    fee_bps: Decimal = Decimal("5")
    allowlist: frozenset[str] | None = None


class OrderCommands:
    def __init__(
        self,
        store: EventStore,
        guard: InFlightGuard,
        clock: Clock,
        market: MarketData,
        attributes: AttributeReader,
        escrow: EscrowService,
        rules: TradingRules,
    ) -> None:
        self.store = store
        self.guard = guard
        self.clock = clock
        self.market = market
        self.attributes = attributes
        self.escrow = escrow
        self.rules = rules

    def place(self, command: PlaceOrder, ctx: CommandContext) -> Accepted:
        key = require_key(ctx.idempotency_key)
        request_fingerprint = fingerprint(PLACE_ROUTE, command.normalised())
        order_id = derived_id("order", ctx.actor_id, key)
        with self.guard.hold("orders", ctx.actor_id, key):
            for _attempt in range(3):
                replay = self._replay_of(order_id, request_fingerprint)
                if replay is not None:
                    return replay
                order = self._new_order(order_id, command, request_fingerprint, ctx)
                try:
                    return self._decide(order, command, ctx)
                except IntegrityError:  # a concurrent write to this order, escrow or portfolio: decide again
                    continue
        raise IdempotencyInProgress("the investor's account is changing concurrently; retry")

    def _new_order(
        self, order_id: UUID, command: PlaceOrder, request_fingerprint: str, ctx: CommandContext
    ) -> Order:
        return Order(
            id=order_id,
            user_id=ctx.actor_id,
            isin=command.isin.value,
            side=command.side.value,
            qty=command.qty.value,
            limit_clean_price=None if command.limit_clean_price is None else command.limit_clean_price.value,
            placed_at=self.clock.now(),
            request_fingerprint=request_fingerprint,
            actor_id=ctx.actor_id,
            request_id=ctx.request_id,
        )

    def _decide(self, order: Order, command: PlaceOrder, ctx: CommandContext) -> Accepted:
        """Run the pre-trade checks; save either the refusal or the order with its reservations, atomically."""
        today = business_date(self.clock)
        account = self.escrow.load(ctx.actor_id, actor_id=ctx.actor_id, request_id=ctx.request_id)
        portfolio = self._portfolio(ctx.actor_id)
        try:
            investor = self.attributes.of(ctx.principal)
            check_attributes(investor, Requirement(kyc_verified=True))
            facts, calendar, _settlement = self.market.facts(order.isin, today)
            approval = check_order(
                OrderFacts(order.side, order.qty, order.limit_clean_price),
                investor,
                facts,
                MarketFacts(today, calendar.is_business_day(today), self.rules.allowlist),
                self.rules.limits,
                portfolio.exposure(),
                available_cash=account.available,
                free_units=portfolio.free_units(order.isin),
                fee_bps=self.rules.fee_bps,
            )
        except (KycNotEligible, NotTradable, PriceOutsideBand, LimitBreached, InsufficientFunds) as refusal:
            order.reject(
                code=refusal.code,
                reason=refusal.message,
                details=refusal.details,
                actor_id=ctx.actor_id,
                request_id=ctx.request_id,
            )
            self.store.save(order)
            raise
        reserved = approval.reserve_cash if order.side == "BUY" else None
        order.accept(
            price_cap=approval.price_cap, reserved=reserved, actor_id=ctx.actor_id, request_id=ctx.request_id
        )
        reference = str(order.id)
        if order.side == "BUY":
            account.reserve(
                reference, approval.reserve_cash, actor_id=ctx.actor_id, request_id=ctx.request_id
            )
            portfolio.commit_buy(
                order_id=reference,
                isin=order.isin,
                qty=order.qty,
                issuer=facts.issuer,
                rating_bucket=facts.rating_bucket,
                duration_bucket=facts.duration_bucket,
                face_value=facts.face_value,
            )
        else:
            portfolio.reserve_units(order_id=reference, isin=order.isin, qty=approval.reserve_units)
        # all or nothing; the order's events go last so its version 2 marks the command's log position
        position = self.store.save_and_position(account, portfolio, order)
        return Accepted(self._answer(order), position)

    @staticmethod
    def _answer(order: Order) -> dict[str, object]:
        return {
            "order_id": str(order.id),
            "status": order.status.value,
            "price_cap": order.price_cap,
            "reserved": order.reserved,
        }

    def _portfolio(self, user_id: str) -> Portfolio:
        try:
            portfolio: Portfolio = self.store.repository.get(portfolio_id(user_id))
        except AggregateNotFoundError:
            return Portfolio.open(user_id)
        return portfolio

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
        if original.rejection is not None:
            refusal = original.rejection
            status = ERROR_STATUS.get(refusal["code"], 400)
            raise RecordedRefusal(refusal["code"], status, refusal["reason"], refusal["details"])
        position = position_of(self.store, order_id, FIRST_COMMAND_VERSION) or 0
        return Accepted(self._answer(original), position, replayed=True)

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
            account = self.escrow.load(order.user_id, actor_id=ctx.actor_id, request_id=ctx.request_id)
            portfolio = self._portfolio(order.user_id)
            reference = str(order.id)
            account.release(reference, actor_id=ctx.actor_id, request_id=ctx.request_id)
            portfolio.release_buy(order_id=reference, isin=order.isin)
            portfolio.release_units(order_id=reference, isin=order.isin)
            try:
                position = self.store.save_and_position(account, portfolio, order)
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
