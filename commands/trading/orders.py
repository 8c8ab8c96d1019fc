"""Order commands: place and cancel. Load → call the aggregate → save → return ids and position."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from bondflow.domain.escrow import escrow_id
from bondflow.domain.ids import derived_id
from bondflow.domain.market_calendar import calendar_id
from bondflow.domain.orders import Order
from bondflow.domain.policy import Requirement, check_attributes
from bondflow.domain.portfolio import Portfolio, portfolio_id
from bondflow.domain.pretrade import Buckets, InstrumentFacts, Limits, MarketFacts, OrderFacts, check_order
from bondflow.domain.values import CleanPrice, Isin, Quantity, Side
from bondflow.errors import (
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
from bondflow.runtime.clock import Clock, business_date
from bondflow.runtime.eventstore import EventStore, position_of
from commands.kernel.conflicts import decide_and_save
from commands.kernel.context import Accepted, CommandContext
from commands.kernel.idempotency import InFlightGuard, check_key, fingerprint, require_key
from commands.kernel.loading import load_or_none
from commands.payments.escrow import EscrowService
from commands.trading.attributes import AttributeReader
from commands.trading.market_data import MarketData

PLACE_ROUTE = "POST /v1/orders"
PLACE_FIELDS = {"isin", "side", "qty", "limit_clean_price"}


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

        def attempt() -> Accepted:
            with self.store.reading_together(  # what the placement reads, in one trip (runtime.read_together)
                order_id,
                escrow_id(ctx.actor_id),
                portfolio_id(ctx.actor_id),
                derived_id("instrument", command.isin.value),
                calendar_id(),
            ):
                replay = self._replay_of(order_id, request_fingerprint)
                if replay is not None:
                    return replay
                return self._decide(
                    self._new_order(order_id, command, request_fingerprint, ctx), command, ctx
                )

        with self.guard.hold("orders", ctx.actor_id, key), self.escrow.writing(ctx.actor_id):
            return decide_and_save(
                attempt, what="the investor's account", details={"order_id": str(order_id)}
            )

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
            facts, calendar, settlement = self.market.facts(order.isin, today)
            approval = check_order(
                OrderFacts(order.side, order.qty, order.limit_clean_price),
                investor,
                facts,
                MarketFacts(today, calendar.is_business_day(today), settlement, self.rules.allowlist),
                self.rules.limits,
                portfolio.exposure(),
                available_cash=account.available,
                free_units=portfolio.free_units(order.isin),
                fee_bps=self.rules.fee_bps,
                current_buckets=self._current_buckets(portfolio, today, {order.isin: facts}),
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
        # all or nothing; the order's events go last so its placement version marks the command's position
        position = self.store.save_and_position(account, portfolio, order)
        return Accepted(self._answer(order), position)

    def _current_buckets(
        self, portfolio: Portfolio, today: date, known: dict[str, InstrumentFacts]
    ) -> dict[str, Buckets]:
        """Each held ISIN's rating and remaining-duration buckets today, not those of its first BUY (the
        order's own ISIN's facts are already `known`: they are not read twice)."""
        current = {}
        for position in portfolio.exposure():
            facts = known.get(position.isin) or self.market.facts(position.isin, today)[0]
            current[position.isin] = Buckets(facts.rating_bucket, facts.duration_bucket)
        return current

    @staticmethod
    def _answer(order: Order) -> dict[str, object]:
        return {
            "order_id": str(order.id),
            "status": order.status.value,
            "price_cap": order.price_cap,
            "reserved": order.reserved,
        }

    def _portfolio(self, user_id: str) -> Portfolio:
        return load_or_none(self.store.repository, portfolio_id(user_id), Portfolio) or Portfolio.open(
            user_id
        )

    def _replay_of(self, order_id: UUID, request_fingerprint: str) -> Accepted | None:
        """The first answer again, as the order stood when its placement was decided (however many events
        that save wrote, and whatever happened to the order since)."""
        current = load_or_none(self.store.repository, order_id, Order)
        if current is None:
            return None
        version = current.placement_version or current.version
        original = load_or_none(self.store.repository, order_id, Order, version=version)
        if original is None:  # pragma: no cover - the version was just read
            return None
        if original.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different request body",
                {"order_id": str(order_id)},
            )
        if original.rejection is not None:
            refusal = original.rejection
            status = ERROR_STATUS.get(refusal["code"], 400)
            raise RecordedRefusal(refusal["code"], status, refusal["reason"], refusal["details"])
        position = position_of(self.store, order_id, version) or 0
        return Accepted(self._answer(original), position, replayed=True)

    def cancel(self, order_id: UUID, ctx: CommandContext) -> Accepted:
        key = None if ctx.idempotency_key is None else check_key(ctx.idempotency_key)
        request_fingerprint = None if key is None else fingerprint(f"POST /v1/orders/{order_id}/cancel", {})

        def attempt() -> Accepted:
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
            position = self.store.save_and_position(account, portfolio, order)
            return Accepted({"order_id": str(order_id), "status": order.status.value}, position)

        with self.escrow.writing(ctx.actor_id):  # the owner's account, which the cancel releases
            return decide_and_save(attempt, what="the order", details={"order_id": str(order_id)})

    def _load_own(self, order_id: UUID, ctx: CommandContext) -> Order:
        order = load_or_none(self.store.repository, order_id, Order)
        if order is None or order.user_id != ctx.actor_id:
            raise NotFound("order not found", {"order_id": str(order_id)})
        return order
