"""Execution commands: what the execution worker decides, recorded here (ARCHITECTURE §4: workers report
through handlers). `prepare` rechecks an accepted order on the execution day, cancels it if it is no
longer tradable, and records the routing before any quote is requested (a racing investor cancel either
lands first or is refused, `BF-ORD-008`); `complete` fills acceptable quotes best price first, records one
`TradeExecuted` per fill, cancels the unfilled remainder (immediate-or-cancel) and releases what the order
no longer needs, all in one transaction.

Fills are priced with the accrued interest of the execution's settlement date and rounded on the order's
running total (`bondflow.domain.trade_amounts`), so they never add up to more than the reservation; a quote
the reservation could not pay is skipped. Executing a quote twice is the same fill (the venue's contract),
so a decision taken again after a write conflict, a crash or a redelivery never trades twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from bondflow.adapters.venue import Fill, Quote
from bondflow.domain.bonds import BusinessCalendar
from bondflow.domain.eligibility import last_execution_date
from bondflow.domain.escrow import escrow_id
from bondflow.domain.ids import derived_id
from bondflow.domain.market_calendar import calendar_id
from bondflow.domain.orders import Order
from bondflow.domain.portfolio import Portfolio, portfolio_id
from bondflow.domain.pretrade import InstrumentFacts, MarketFacts, OrderFacts, check_still_tradable
from bondflow.domain.trade_amounts import FillAllocator
from bondflow.domain.trades import Trade, trade_id_for
from bondflow.errors import NotTradable, PriceOutsideBand
from bondflow.runtime.clock import IST, Clock, business_date
from bondflow.runtime.eventstore import EventStore
from bondflow.workers.advisor import ExecutionAdvisor
from bondflow.workers.ports import ExecutionPlan
from commands.kernel.conflicts import decide_and_save
from commands.kernel.loading import load_or_none
from commands.payments.escrow import EscrowService
from commands.trading.market_data import MarketData

log = logging.getLogger(__name__)

WORKER = "system:execution"
EXPIRED_REASON = "IOC: the order expired before it could execute"


@dataclass(frozen=True, slots=True)
class _Market:
    facts: InstrumentFacts
    today: date
    settlement: date


class ExecutionCommands:
    def __init__(
        self,
        store: EventStore,
        clock: Clock,
        advisor: ExecutionAdvisor,
        market: MarketData,
        escrow: EscrowService,
        fee_bps: Decimal,
        dealers: tuple[str, ...],
    ) -> None:
        self.store = store
        self.clock = clock
        self.advisor = advisor
        self.market = market
        self.escrow = escrow
        self.fee_bps = fee_bps
        self.dealers = dealers

    def prepare(self, order_id: UUID) -> ExecutionPlan | None:
        """The RFQ to send for an order awaiting execution (routing recorded), or None: nothing to do (not
        awaiting, a redelivery) or cancelled here as no longer tradable."""
        return decide_and_save(
            lambda: self._prepare(order_id), what="the order", details={"order_id": str(order_id)}
        )

    def complete(
        self, plan: ExecutionPlan, quotes: list[Quote], reason: str, execute: Callable[[Quote, Decimal], Fill]
    ) -> None:
        """Fill from `quotes` (each fill through `execute`, the venue), cancel the rest with `reason`."""
        decide_and_save(
            lambda: self._complete(plan, quotes, reason, execute),
            what="the order",
            details={"order_id": str(plan.order_id)},
        )

    def _prepare(self, order_id: UUID) -> ExecutionPlan | None:
        order = load_or_none(self.store.repository, order_id, Order)
        if order is None or not order.awaiting_execution:
            return None  # cancelled before routing, or already executed (a redelivery)
        today = business_date(self.clock)
        with self.store.reading_together(derived_id("instrument", order.isin), calendar_id()):
            facts, calendar, settlement = self.market.facts(order.isin, today)
        rfq_id = str(derived_id("rfq", str(order.id)))
        band_cap, refusal = self._recheck(order, facts, calendar, today, settlement)
        if refusal is not None:
            self._cancel(order, refusal, rfq_id)
            return None
        advice = self.advisor.advise(
            order.isin, order.side, self.dealers, facts.reference_clean_price, facts.price_band_pct
        )
        cap = (
            order.price_cap
            if order.price_cap is not None
            else (advice.band_high if order.side == "BUY" else advice.band_low)
        )
        cap = min(cap, band_cap) if order.side == "BUY" else max(cap, band_cap)
        if not order.routed:
            order.route(
                rfq_id=rfq_id, dealers=advice.dealers, price_cap=cap, actor_id=WORKER, request_id=rfq_id
            )
            self.store.save(order)  # from now on the order cannot be cancelled by the investor
        return ExecutionPlan(
            order.id,
            rfq_id,
            order.isin,
            order.side,
            order.qty,
            facts.reference_clean_price,
            advice.dealers,
            cap,
        )

    def _complete(
        self, plan: ExecutionPlan, quotes: list[Quote], reason: str, execute: Callable[[Quote, Decimal], Fill]
    ) -> None:
        with self.store.reading_together(plan.order_id, derived_id("instrument", plan.isin), calendar_id()):
            order = load_or_none(self.store.repository, plan.order_id, Order)
            if order is None or not order.awaiting_execution:
                return  # recorded before a crash: a redelivery
            today = business_date(self.clock)
            facts, _calendar, settlement = self.market.facts(order.isin, today)
        cap = plan.cap
        acceptable = [
            q for q in quotes if (q.clean_price <= cap if order.side == "BUY" else q.clean_price >= cap)
        ]
        rank = {dealer: i for i, dealer in enumerate(plan.dealers)}
        acceptable.sort(
            key=lambda q: (q.clean_price if order.side == "BUY" else -q.clean_price, rank.get(q.dealer, 0))
        )
        with self.store.reading_together(escrow_id(order.user_id), portfolio_id(order.user_id)):
            account = self.escrow.load(order.user_id, actor_id=WORKER, request_id=plan.rfq_id)
            portfolio = self._portfolio(order.user_id)
        allocator = FillAllocator(facts.face_value, self.fee_bps)
        budget = account.reserved_for(str(order.id)) if order.side == "BUY" else None
        trades: list[Trade] = []
        market = _Market(facts, today, settlement)
        for quote in acceptable:
            if order.remaining_qty <= 0:
                break
            qty = min(order.remaining_qty, quote.max_qty)
            if not self._affordable(allocator, qty, quote, facts.accrued_per_100, budget):
                continue
            trade = self._fill(order, execute(quote, qty), quote, allocator, market)
            if trade is not None:
                trades.append(trade)
        order.cancel_unfilled(reason=reason, actor_id=WORKER, request_id=plan.rfq_id)
        self._release_unused(order, trades, account, portfolio)
        self.store.save(order, *trades, account, portfolio)

    @staticmethod
    def _affordable(
        allocator: FillAllocator, qty: Decimal, quote: Quote, accrued: Decimal, budget: Decimal | None
    ) -> bool:
        """A fill worth at least a paisa that, for a BUY, the reservation still covers (it always does within
        the order's life; this keeps it so should the calendar change under a waiting order)."""
        total = allocator.total_with(qty, quote.clean_price, accrued)
        if total.gross <= allocator.allocated.gross:
            return False
        return budget is None or total.consideration <= budget

    @staticmethod
    def _fill(
        order: Order, fill: Fill, quote: Quote, allocator: FillAllocator, market: _Market
    ) -> Trade | None:
        if fill.qty <= 0:
            return None
        facts = market.facts
        amounts = allocator.allocate(fill.qty, fill.clean_price, facts.accrued_per_100)
        trade = Trade(
            id=trade_id_for(order.id, quote.quote_id),
            order_id=str(order.id),
            user_id=order.user_id,
            isin=order.isin,
            side=order.side,
            dealer=fill.dealer,
            quote_id=quote.quote_id,
            qty=fill.qty,
            clean_price=fill.clean_price,
            accrued_per_100=facts.accrued_per_100,
            face_value=facts.face_value,
            consideration=amounts.consideration,
            fees=amounts.fees,
            reference_clean_price=facts.reference_clean_price,
            trade_date=market.today,
            settlement_date=market.settlement,
            actor_id=WORKER,
            request_id=quote.quote_id,
        )
        order.record_fill(
            trade_id=str(trade.id),
            dealer=fill.dealer,
            qty=fill.qty,
            clean_price=fill.clean_price,
            actor_id=WORKER,
            request_id=quote.quote_id,
        )
        return trade

    @staticmethod
    def _recheck(
        order: Order, facts: Any, calendar: BusinessCalendar, today: date, settlement: date
    ) -> tuple[Decimal, str | None]:
        """Tradability again, on the execution day (DOMAIN.md): the band's cap now, or why the order must go."""
        trade_date = order.placed_at.astimezone(IST).date()
        if today > last_execution_date(calendar, trade_date):
            return Decimal(0), f"{EXPIRED_REASON} (accepted {trade_date}, executing {today})"
        market = MarketFacts(today, calendar.is_business_day(today), settlement)
        try:
            cap = check_still_tradable(
                OrderFacts(order.side, order.qty, order.limit_clean_price), facts, market
            )
        except (NotTradable, PriceOutsideBand) as refusal:
            return Decimal(0), f"{refusal.code}: {refusal.message} at execution"
        return cap, None

    def _cancel(self, order: Order, reason: str, rfq_id: str) -> None:
        """No longer tradable when its turn came: cancelled, and everything it reserved is released."""
        account = self.escrow.load(order.user_id, actor_id=WORKER, request_id=rfq_id)
        portfolio = self._portfolio(order.user_id)
        order.cancel_unfilled(reason=reason, actor_id=WORKER, request_id=rfq_id)
        self._release_unused(order, [], account, portfolio)
        self.store.save(order, account, portfolio)
        log.info("order cancelled at execution: %s", reason, extra={"order_id": str(order.id)})

    def _release_unused(self, order: Order, trades: list[Trade], account: Any, portfolio: Portfolio) -> None:
        """Keep reserved only what the fills will settle; give back the rest now."""
        reference = str(order.id)
        if order.side == "BUY":
            needed = sum((t.consideration for t in trades), Decimal(0))
            held = account.reserved_for(reference)
            if held > needed:
                account.release(reference, held - needed, actor_id=WORKER, request_id=f"rfq:{reference}")
            if order.filled_qty == 0:
                portfolio.release_buy(order_id=reference, isin=order.isin)
            elif order.cancelled_qty > 0:
                portfolio.release_buy(order_id=reference, isin=order.isin, qty=order.cancelled_qty)
        else:
            unfilled = order.qty - order.filled_qty
            if unfilled > 0:
                portfolio.release_units(order_id=reference, isin=order.isin, qty=unfilled)

    def _portfolio(self, user_id: str) -> Portfolio:
        return load_or_none(self.store.repository, portfolio_id(user_id), Portfolio) or Portfolio.open(
            user_id
        )
