"""The execution worker: follows `OrderAccepted` and alone calls the venue. It asks the execution handler to
prepare the order (recheck on the execution day, record the routing), requests quotes for the RFQ from the
dealers the advisor ranked, and hands the quotes back to the handler, which fills acceptable quotes best
price first through the venue, records one `TradeExecuted` per fill, cancels the unfilled remainder
(immediate-or-cancel) and releases what the order no longer needs (`commands.trading.execution`).

Routing is recorded before any quote is requested, so a racing cancel either lands first (nothing to
prepare) or is refused (`BF-ORD-008`): one outcome, never both. Quote ids derive from the order, and
executing a quote twice is the same fill, so a crash and a redelivery never trade twice. A venue that does
not answer is retried with backoff behind a circuit breaker; if it still does not answer, the order is
cancelled like any unfilled IOC remainder, with the reason `VENUE_DOWN_REASON`, and everything it reserved
is released. With `in_flight` above 1 many RFQs are in flight at once, one order's work in log order.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from bondflow.adapters.postgres import Database
from bondflow.adapters.venue import Quote, Venue, VenueUnavailable
from bondflow.domain.orders import Order
from bondflow.runtime.effect_follower import EffectFollower, topic_of
from bondflow.runtime.resilience import CircuitBreaker, RetriesExhausted, Retrying
from bondflow.workers.ports import ExecutionHandler

log = logging.getLogger(__name__)

ACCEPTED = Order.OrderAccepted
IOC_REASON = "IOC: no acceptable quote for the remainder"
VENUE_DOWN_REASON = "IOC: the venue did not answer the RFQ"


class ExecutionWorker(EffectFollower):
    name = "execution"
    topics = frozenset({topic_of(ACCEPTED)})

    def __init__(
        self, db: Database, venue: Venue, handler: ExecutionHandler, retrying: Retrying | None = None
    ) -> None:
        super().__init__(db)
        self.venue = venue
        self.handler = handler
        self.retrying = retrying or Retrying(CircuitBreaker("venue"), (VenueUnavailable,), attempts=5)

    def handle(self, event: Any) -> None:
        self.execute(event.originator_id)

    def execute(self, order_id: UUID) -> None:
        plan = self.handler.prepare(order_id)
        if plan is None:
            return  # cancelled before routing, already executed (a redelivery), or no longer tradable
        reason = IOC_REASON
        try:
            quotes: list[Quote] = self.retrying.call(
                lambda: self.venue.request_quotes(
                    plan.rfq_id, plan.isin, plan.side, plan.qty, plan.reference_clean_price, plan.dealers
                )
            )
        except RetriesExhausted as exc:
            log.warning("venue unavailable, order cancelled: %s", exc, extra={"order_id": str(order_id)})
            quotes, reason = [], VENUE_DOWN_REASON
        self.handler.complete(plan, quotes, reason, self.venue.execute)
