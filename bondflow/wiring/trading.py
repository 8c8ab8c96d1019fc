"""The trading context's services, built once by the composition root: order commands with their pre-trade
rules, the RFQ venue (sandbox), the execution advisor and the execution worker, and the publisher of the
dealers' records the advisor reads (`projections.analytics.dealer_records`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bondflow.adapters.clickhouse import ClickHouse
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import FaultSwitches
from bondflow.adapters.venue import SandboxVenue
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore
from bondflow.settings import Settings
from bondflow.workers.advisor import CachedRecords, RecordBasedAdvisor
from bondflow.workers.execution import ExecutionWorker
from commands.kernel.idempotency import InFlightGuard
from commands.payments.escrow import EscrowService
from commands.trading.attributes import AttributeReader
from commands.trading.execution import ExecutionCommands
from commands.trading.market_data import MarketData
from commands.trading.orders import OrderCommands, TradingRules
from projections.analytics import dealer_records


@dataclass
class Trading:
    orders: OrderCommands
    venue: SandboxVenue
    market: MarketData
    worker: ExecutionWorker
    dealer_records: dealer_records.DealerRecordsPublisher  # a timer, where ClickHouse can be read


def build_trading(
    settings: Settings,
    db: Database,
    store: EventStore,
    clock: Clock,
    clickhouse: ClickHouse,
    attributes: AttributeReader,
    escrow: EscrowService,
    venue_faults: FaultSwitches | None = None,
) -> Trading:
    market = MarketData(store)
    allowlist = None if settings.trading_allowlist is None else frozenset(settings.trading_allowlist)
    rules = TradingRules(fee_bps=settings.trading_fee_bps, allowlist=allowlist)
    orders = OrderCommands(store, InFlightGuard(db), clock, market, attributes, escrow, rules)
    venue = SandboxVenue(
        db, seed=settings.venue_seed, faults=venue_faults, quote_delay=settings.venue_quote_delay_seconds
    )
    venue.setup()

    dealer_records.ensure_table(db)  # the advisor may read before the publisher's first tick

    def records(isin: str) -> Any:
        return dealer_records.published_records(db, isin)

    publisher = dealer_records.DealerRecordsPublisher(
        clickhouse, db, store, period=settings.advisor_refresh_seconds
    )
    advisor = RecordBasedAdvisor(CachedRecords(records, settings.advisor_refresh_seconds))
    execution = ExecutionCommands(store, clock, advisor, market, escrow, rules.fee_bps, venue.dealers)
    worker = ExecutionWorker(db, venue, execution)
    worker.in_flight = settings.execution_in_flight
    return Trading(orders, venue, market, worker, publisher)
