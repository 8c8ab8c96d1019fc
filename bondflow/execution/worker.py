"""The execution worker: follows `OrderAccepted`, routes the order as an RFQ to the dealers the advisor
ranks, fills acceptable quotes best price first (possibly from several dealers), records one `TradeExecuted`
per fill, cancels the unfilled remainder (immediate-or-cancel) and releases what it no longer needs.

It alone calls the venue. Routing is recorded before any quote is requested, so a racing cancel either
lands first (the worker then skips the order) or is refused (`BF-ORD-008`): one outcome, never both.
Quote ids derive from the order, and executing a quote twice is the same fill, so a crash and a
redelivery never trade twice. A venue that does not answer is retried with backoff behind a circuit
breaker; if it still does not answer, the order is cancelled like any unfilled IOC remainder, with the
reason `VENUE_DOWN_REASON`, and everything it reserved is released.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from bondflow.adapters.venue import Quote, Venue, VenueUnavailable
from bondflow.clock import Clock, business_date
from bondflow.domain.ids import derived_id
from bondflow.domain.orders import Order
from bondflow.domain.portfolio import Portfolio, portfolio_id
from bondflow.domain.pretrade import consideration
from bondflow.domain.trades import Trade, trade_id_for
from bondflow.effect_follower import EffectFollower, topic_of
from bondflow.eventstore import EventStore
from bondflow.execution.advisor import ExecutionAdvisor
from bondflow.resilience import CircuitBreaker, RetriesExhausted, Retrying
from commands.escrow import EscrowService
from commands.market_data import MarketData

log = logging.getLogger(__name__)

ACCEPTED = Order.OrderAccepted  # type: ignore[attr-defined]
WORKER = "system:execution"
IOC_REASON = "IOC: no acceptable quote for the remainder"
VENUE_DOWN_REASON = "IOC: the venue did not answer the RFQ"


class ExecutionWorker(EffectFollower):
    name = "execution"
    topics = frozenset({topic_of(ACCEPTED)})

    def __init__(
        self,
        store: EventStore,
        db: Any,
        clock: Clock,
        venue: Venue,
        advisor: ExecutionAdvisor,
        market: MarketData,
        escrow: EscrowService,
        fee_bps: Decimal,
        retrying: Retrying | None = None,
    ) -> None:
        super().__init__(db)
        self.store = store
        self.clock = clock
        self.venue = venue
        self.advisor = advisor
        self.market = market
        self.escrow = escrow
        self.fee_bps = fee_bps
        self.retrying = retrying or Retrying(CircuitBreaker("venue"), (VenueUnavailable,), attempts=5)

    def handle(self, event: Any) -> None:
        self.execute(event.originator_id)

    def execute(self, order_id: UUID) -> None:
        for _attempt in range(5):
            order: Order = self.store.repository.get(order_id)
            if not order.awaiting_execution:
                return  # cancelled before routing, or already executed (a redelivery)
            try:
                self._execute(order)
                return
            except IntegrityError:  # the investor cancelled (or something changed) meanwhile: look again
                continue
        raise RuntimeError(f"order {order_id} kept changing while it was being executed")

    def _execute(self, order: Order) -> None:
        today = business_date(self.clock)
        facts, _calendar, settlement = self.market.facts(order.isin, today)
        rfq_id = str(derived_id("rfq", str(order.id)))
        advice = self.advisor.advise(
            order.isin, order.side, self.venue.dealers, facts.reference_clean_price, facts.price_band_pct
        )
        cap = (
            order.price_cap
            if order.price_cap is not None
            else (advice.band_high if order.side == "BUY" else advice.band_low)
        )
        if not order.routed:
            order.route(
                rfq_id=rfq_id, dealers=advice.dealers, price_cap=cap, actor_id=WORKER, request_id=rfq_id
            )
            self.store.save(order)  # from now on the order cannot be cancelled by the investor

        reason = IOC_REASON
        try:
            quotes = self.retrying.call(
                lambda: self.venue.request_quotes(
                    rfq_id, order.isin, order.side, order.qty, facts.reference_clean_price, advice.dealers
                )
            )
        except RetriesExhausted as exc:
            log.warning("venue unavailable, order cancelled: %s", exc, extra={"order_id": str(order.id)})
            quotes, reason = [], VENUE_DOWN_REASON
        acceptable = [
            q for q in quotes if (q.clean_price <= cap if order.side == "BUY" else q.clean_price >= cap)
        ]
        rank = {dealer: i for i, dealer in enumerate(advice.dealers)}
        acceptable.sort(
            key=lambda q: (q.clean_price if order.side == "BUY" else -q.clean_price, rank[q.dealer])
        )

        account = self.escrow.load(order.user_id, actor_id=WORKER, request_id=rfq_id)
        portfolio: Portfolio = self._portfolio(order.user_id)
        trades: list[Trade] = []
        for quote in acceptable:
            if order.remaining_qty <= 0:
                break
            trade = self._fill(order, quote, facts, today, settlement)
            if trade is not None:
                trades.append(trade)
        order.cancel_unfilled(reason=reason, actor_id=WORKER, request_id=rfq_id)
        self._release_unused(order, trades, account, portfolio)
        self.store.save(order, *trades, account, portfolio)

    def _fill(self, order: Order, quote: Quote, facts: Any, today: Any, settlement: Any) -> Trade | None:
        fill = self.venue.execute(quote, min(order.remaining_qty, quote.max_qty))
        if fill.qty <= 0:
            return None
        with_fees = consideration(
            fill.qty, facts.face_value, fill.clean_price, facts.accrued_per_100, self.fee_bps
        )
        gross = consideration(fill.qty, facts.face_value, fill.clean_price, facts.accrued_per_100, Decimal(0))
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
            consideration=with_fees,
            fees=with_fees - gross,
            reference_clean_price=facts.reference_clean_price,
            trade_date=today,
            settlement_date=settlement,
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
        portfolio: Portfolio = self.store.repository.get(portfolio_id(user_id))
        return portfolio
