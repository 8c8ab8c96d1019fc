"""The trading context's services, built once by the composition root: order commands with their pre-trade
rules, the RFQ venue (sandbox), the execution advisor and the execution worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bondflow.adapters.clickhouse import ClickHouse
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import FaultSwitches
from bondflow.adapters.venue import SandboxVenue
from bondflow.clock import Clock
from bondflow.eventstore import EventStore
from bondflow.execution.advisor import RecordBasedAdvisor
from bondflow.execution.worker import ExecutionWorker
from bondflow.settings import Settings
from commands.attributes import AttributeReader
from commands.escrow import EscrowService
from commands.idempotency import InFlightGuard
from commands.market_data import MarketData
from commands.orders import OrderCommands, TradingRules
from projections.fill_analytics import dealer_records


@dataclass
class Trading:
    orders: OrderCommands
    venue: SandboxVenue
    market: MarketData
    worker: ExecutionWorker


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
    venue = SandboxVenue(db, seed=settings.venue_seed, faults=venue_faults)
    venue.setup()

    def records(isin: str) -> Any:
        return dealer_records(clickhouse, isin)

    worker = ExecutionWorker(
        store, db, clock, venue, RecordBasedAdvisor(records), market, escrow, rules.fee_bps
    )
    return Trading(orders, venue, market, worker)
