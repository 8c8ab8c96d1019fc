"""The composition root: builds every service from settings. Nothing connects at import time."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

from bondflow.adapters.clickhouse import ClickHouse, default_dsn
from bondflow.adapters.postgres import Database, eventsourcing_env, start_embedded_postgres
from bondflow.adapters.sandbox_faults import SharedFaults
from bondflow.auth.keys import SigningKey
from bondflow.auth.tokens import TokenService
from bondflow.clock import Clock, OffsetClock, SystemClock, record_events_with
from bondflow.container import Container
from bondflow.eventstore import EventStore
from bondflow.followers import Follower, FollowerRunner
from bondflow.investors import build_investors, oidc_verifier
from bondflow.metrics import Metrics
from bondflow.payments import build_payments
from bondflow.settings import Settings
from bondflow.settlement.context import build_settlement
from bondflow.settlement.timer import TimerRunner
from bondflow.trading import build_trading
from commands.instruments import InstrumentCommands
from projections.escrow_view import EscrowProjector
from projections.fill_analytics import FillAnalyticsProjector
from projections.holdings_view import HoldingsProjector
from projections.instruments_view import InstrumentsProjector
from projections.kafka_relay import KafkaRelay
from projections.order_flow import OrderFlowProjector
from projections.orders_view import OrdersProjector
from projections.regulator_stream import RegulatorStreamProjector
from projections.settlements_view import SettlementsProjector
from projections.trades_view import TradesProjector
from projections.users_view import InvestorsProjector

log = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return start_embedded_postgres(settings.resolved_data_dir)


def open_store(settings: Settings) -> tuple[Database, EventStore]:
    """PostgreSQL only: the read-side pool and the event store (for offline tools such as verify)."""
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    url = database_url(settings)
    db = Database(url, pool_size=settings.postgres_pool_size)
    db.open()
    store = EventStore(
        env=eventsourcing_env(
            url, lock_timeout=settings.postgres_lock_timeout_seconds, pool_size=settings.postgres_pool_size
        )
    )
    return db, store


def clock_from(settings: Settings) -> Clock:
    """The system clock, or in development a clock running from `BONDFLOW_CLOCK_START` (from the moment
    `BONDFLOW_CLOCK_ANCHOR` names, or from this process's start)."""
    if settings.clock_start is None:
        return SystemClock()
    start = settings.clock_start if settings.clock_start.tzinfo else settings.clock_start.replace(tzinfo=UTC)
    anchor = settings.clock_anchor
    if anchor is not None and anchor.tzinfo is None:
        anchor = anchor.replace(tzinfo=UTC)
    return OffsetClock(start, anchored_at=anchor)


def bootstrap(settings: Settings, *, clock: Clock | None = None) -> Container:
    settings.check_safe_for_production()
    clock = clock or clock_from(settings)
    record_events_with(clock)
    data_dir = settings.resolved_data_dir
    db, store = open_store(settings)
    clickhouse = ClickHouse(settings.clickhouse_dsn or default_dsn(data_dir), settings.clickhouse_database)
    signing_key = SigningKey.load_or_create(data_dir)
    tokens = TokenService(
        signing_key, clock, timedelta(seconds=settings.token_ttl_seconds), oidc_verifier(settings, clock)
    )
    metrics = Metrics()
    faults = sandbox_fault_switches(settings, db)
    investors = build_investors(settings, db, store, tokens, clock, faults=faults["kyc"])
    payments = build_payments(settings, db, store, clock, faults=faults["payments"])
    trading = build_trading(
        settings, db, store, clock, clickhouse, investors.attributes, payments.escrow, faults["venue"]
    )
    settlement = build_settlement(
        settings, db, store, clock, payments.escrow, faults["payments"], faults["chain"]
    )
    container = Container(
        settings=settings,
        clock=clock,
        db=db,
        store=store,
        clickhouse=clickhouse,
        signing_key=signing_key,
        tokens=tokens,
        orders=trading.orders,
        instruments=InstrumentCommands(store, clock),
        metrics=metrics,
        investors=investors,
        payments=payments,
        trading=trading,
        settlement=settlement,
        faults=faults,
    )
    followers: tuple[Follower, ...] = (
        *postgres_read_models(db, signing_key),
        *clickhouse_read_models(clickhouse),
    )
    if settings.kafka_bootstrap_servers:
        relay = KafkaRelay(
            db,
            settings.kafka_bootstrap_servers,
            partitions=settings.kafka_topic_partitions,
            replication=settings.kafka_replication_factor,
        )
        followers = (*followers, relay)
    replayable = {f.name for f in followers}
    context_followers = (*investors.followers, *payments.followers, trading.worker, *settlement.followers)
    for projector in (*followers, *(f for f in context_followers if f.name not in replayable)):
        container.followers[projector.name] = FollowerRunner(
            projector, store, db, batch_size=settings.follower_batch_size
        )
    container.followers[settlement.timer.name] = TimerRunner(settlement.timer, store, db)
    metrics.watch_lag(lambda: _lags(container))
    return container


def sandbox_fault_switches(settings: Settings, db: Database) -> dict[str, SharedFaults]:
    """The sandbox adapters' fault switches, in PostgreSQL so that every process sees the same ones."""
    seeds = {
        "payments": settings.payments_sandbox_seed,
        "chain": settings.chain_sandbox_seed,
        "kyc": settings.payments_sandbox_seed,
        "venue": settings.venue_seed,
    }
    switches = {target: SharedFaults(db, target, seed=seed) for target, seed in seeds.items()}
    switches["payments"].setup()
    return switches


def postgres_read_models(db: Database, signing_key: SigningKey) -> list[Follower]:
    """Every PostgreSQL projector: what `serve` runs and what `bondflow replay` rebuilds."""
    return [
        OrdersProjector(db),
        InstrumentsProjector(db),
        TradesProjector(db),
        HoldingsProjector(db),
        InvestorsProjector(db),
        EscrowProjector(db),
        RegulatorStreamProjector(db, signing_key.sign),
        SettlementsProjector(db),
    ]


def clickhouse_read_models(clickhouse: ClickHouse) -> list[Follower]:
    return [OrderFlowProjector(clickhouse), FillAnalyticsProjector(clickhouse)]


def _lags(container: Container) -> dict[str, int]:
    head = container.store.head_position()
    return {name: head - runner.follower.position() for name, runner in container.followers.items()}
