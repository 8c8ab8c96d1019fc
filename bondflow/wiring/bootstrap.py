"""The composition root: builds every service from settings. Nothing connects at import time."""

from __future__ import annotations

import functools
import logging
from datetime import UTC, timedelta
from pathlib import Path
from typing import cast

from bondflow.adapters.clickhouse import ClickHouse, default_dsn
from bondflow.adapters.postgres import Database, eventsourcing_env, start_embedded_postgres
from bondflow.adapters.rate_buckets import TokenBuckets
from bondflow.adapters.sandbox_faults import SharedFaults
from bondflow.api.rate_limits import RouteLimits
from bondflow.runtime import tracing
from bondflow.runtime.clock import Clock, OffsetClock, SystemClock, record_events_with
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Follower, FollowerRunner
from bondflow.runtime.lag import pending_events
from bondflow.runtime.log_reader import POSITION, select_after
from bondflow.runtime.metrics import Metrics
from bondflow.runtime.position_waits import PositionWaits
from bondflow.runtime.segments import run_in_segments
from bondflow.saga.timer import TimerRunner
from bondflow.security.keys import SigningKey
from bondflow.security.revocations import Revocations
from bondflow.security.tokens import TokenService
from bondflow.settings import Settings
from bondflow.wiring.container import Container
from bondflow.wiring.corporate_actions import CouponJobRunner, build_corporate_actions
from bondflow.wiring.investors import build_investors, oidc_verifier
from bondflow.wiring.ledger import build_ledger
from bondflow.wiring.payments import build_payments
from bondflow.wiring.replay_lanes import Builder
from bondflow.wiring.settlement import build_settlement
from bondflow.wiring.trading import build_trading
from commands.instruments.handlers import InstrumentCommands
from projections.analytics.fill_analytics import FillAnalyticsProjector
from projections.analytics.order_flow import OrderFlowProjector
from projections.base.clickhouse import ClickHouseProjector
from projections.base.pagination import use_cursor_key
from projections.base.postgres import PostgresProjector
from projections.corporate_actions.projector import CorporateActionsProjector
from projections.escrow.projector import EscrowProjector
from projections.holdings.projector import HoldingsProjector
from projections.instruments.projector import InstrumentsProjector
from projections.ledger.projector import LedgerProjector
from projections.live.feed import LiveFeed
from projections.live.projector import LiveUpdatesProjector
from projections.live.stream_leases import StreamLeases
from projections.live.wakeups import FeedWakeups
from projections.orders.projector import OrdersProjector
from projections.regulator.kafka_relay import KafkaRelay
from projections.regulator.stream import RegulatorStreamProjector
from projections.settlements.projector import SettlementsProjector
from projections.trades.projector import TradesProjector
from projections.users.projector import InvestorsProjector

log = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    return start_embedded_postgres(settings.resolved_data_dir)


def open_store(settings: Settings) -> tuple[Database, EventStore]:
    """PostgreSQL only: the read-side pool and the event store (for offline tools such as verify)."""
    settings.resolved_data_dir.mkdir(parents=True, exist_ok=True)
    url = database_url(settings)
    db = Database(url, pool_size=settings.postgres_pool_size, nested=settings.postgres_nested_connections)
    db.open()
    env = eventsourcing_env(
        url, lock_timeout=settings.postgres_lock_timeout_seconds, pool_size=settings.postgres_pool_size
    )
    # The library creates its tables and replaces its functions (CREATE OR REPLACE FUNCTION) whenever a
    # store opens; processes starting together would race on the catalog ("tuple concurrently updated")
    # and one would die at start-up. One process at a time, under a session lock held meanwhile.
    with db.dedicated_connection() as ddl_lock:
        ddl_lock.execute("SELECT pg_advisory_lock(hashtextextended('ddl:event_store', 0))")
        store = EventStore(env=env)
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
    tracing.configure_from_environment()  # OTLP export when OTEL_* asks for it; off otherwise
    clock = clock or clock_from(settings)
    record_events_with(clock)
    use_cursor_key(settings.master_key.get_secret_value())
    data_dir = settings.resolved_data_dir
    db, store = open_store(settings)
    clickhouse = ClickHouse(settings.clickhouse_dsn or default_dsn(data_dir), settings.clickhouse_database)
    signing_key = SigningKey.load_or_create(data_dir)
    tokens = token_service(settings, db, clock, signing_key)
    metrics = Metrics()
    faults = sandbox_fault_switches(settings, db)
    rate_buckets = TokenBuckets(db.url, clock, settings.master_key.get_secret_value().encode())
    rate_buckets.setup()
    investors = build_investors(
        settings, db, store, tokens, clock, buckets=rate_buckets, faults=faults["kyc"]
    )
    payments = build_payments(settings, db, store, clock, faults=faults["payments"])
    trading = build_trading(
        settings, db, store, clock, clickhouse, investors.attributes, payments.escrow, faults["venue"]
    )
    settlement = build_settlement(
        settings, db, store, clock, payments.escrow, faults["payments"], faults["chain"]
    )
    ledger = build_ledger(db, store, clock)
    payments.provider.bank = settlement.payouts.bank = ledger.bank  # the sandboxes keep the bank's book
    corporate_actions = build_corporate_actions(settings, store, clock, settlement.chain, payments.escrow)
    container = Container(
        rate_buckets=rate_buckets,
        route_limits=RouteLimits(rate_buckets, settings),
        settings=settings,
        clock=clock,
        db=db,
        store=store,
        clickhouse=clickhouse,
        signing_key=signing_key,
        tokens=tokens,
        instruments=InstrumentCommands(store, clock),
        metrics=metrics,
        investors=investors,
        payments=payments,
        trading=trading,
        settlement=settlement,
        waits=PositionWaits(
            db,
            store.listen_channel,
            lambda name: container.followers[name].follower.position(),
            metrics,
            max_waiters=settings.query_max_waiters,
            next_relevant=lambda name, after: next_relevant(container, name, after),
        ),
        faults=faults,
        ledger=ledger,
        corporate_actions=corporate_actions,
        live=live_feed(settings, db),
    )
    register_followers(container)
    metrics.watch_lag(lambda: _lags(container))
    return container


def next_relevant(container: Container, name: str, after: int) -> int:
    """The position of the first event after `after` that follower `name` applies; past the head if none."""
    rows, scanned = select_after(container.store, after, container.followers[name].follower.topics, 1)
    return int(rows[0][POSITION]) if rows else scanned + 1


def live_feed(settings: Settings, db: Database) -> LiveFeed:
    leases = StreamLeases(db, settings.master_key.get_secret_value().encode(), settings.live_streams_per_user)
    leases.setup()
    return LiveFeed(FeedWakeups(db), leases)


def token_service(settings: Settings, db: Database, clock: Clock, signing_key: SigningKey) -> TokenService:
    """Our tokens (signed with the local key, revocable) and, when configured, an OIDC provider's."""
    revocations = Revocations(db)
    revocations.setup()
    return TokenService(
        signing_key,
        clock,
        timedelta(seconds=settings.token_ttl_seconds),
        oidc_verifier(settings, clock),
        revocations,
    )


def register_followers(container: Container) -> None:
    """The one registry of followers (serve, worker, replay's list, readyz and the as-of query read it):
    the read models, the relay, every context's effect workers and clock followers, segments as set."""
    settings, db, store = container.settings, container.db, container.store
    investors, payments, settlement = container.investors, container.payments, container.settlement
    corporate_actions = container.corporate_actions
    kafka = settings.kafka_bootstrap_servers  # rows chained without a frame are encoded by the relay
    read_models = postgres_read_models(db, container.signing_key, stream_frames=bool(kafka))
    for read_model in read_models:  # the queries read these tables even where no follower runs (--no-workers,
        read_model.setup()  # or before the worker process has started): created here, idempotent DDL
    followers: tuple[Follower, ...] = (*read_models, *clickhouse_read_models(container.clickhouse))
    if kafka:
        relay = KafkaRelay(
            db,
            kafka,
            partitions=settings.kafka_topic_partitions,
            replication=settings.kafka_replication_factor,
        )
        followers = (*followers, relay)
    context_followers = (  # effect workers and policies: the read models are all in `postgres_read_models`
        *investors.followers,
        *payments.followers,
        container.trading.worker,
        *settlement.followers,
        container.ledger.poster,
    )
    for projector in (*followers, *context_followers):
        container.followers[projector.name] = FollowerRunner(
            projector, store, db, batch_size=settings.follower_batch_size
        )
    container.followers[settlement.timer.name] = TimerRunner(settlement.timer, store, db)
    for timer in (
        container.trading.dealer_records,
        *investors.timers,
        *payments.timers,
        *settlement.timers,
    ):  # the sandboxes' webhook pumps, the reconciler
        runner = TimerRunner(timer, store, db)
        runner.interval = getattr(timer, "tick_seconds", runner.interval)  # how often it polls when idle
        container.followers[timer.name] = runner
    coupon_runner = CouponJobRunner(corporate_actions.job, store, db)
    coupon_runner.interval = settings.coupon_job_interval_seconds
    container.followers[corporate_actions.job.name] = coupon_runner
    for name, count in settings.follower_segments.items():
        if count > 1 and name in container.followers:
            run_in_segments(container.followers, name, count)


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


def postgres_read_models(
    db: Database, signing_key: SigningKey, *, stream_frames: bool = False
) -> list[PostgresProjector]:
    """Every PostgreSQL projector: what `serve` runs and what `bondflow replay` rebuilds. `stream_frames`:
    the regulator stream keeps each record's Avro frame, which only the Kafka relay reads (a replay
    compares the stream and never switches it in; without Kafka no relay runs)."""
    return [
        OrdersProjector(db),
        InstrumentsProjector(db),
        TradesProjector(db),
        HoldingsProjector(db),
        InvestorsProjector(db),
        EscrowProjector(db),
        RegulatorStreamProjector(db, signing_key.sign, frames=stream_frames),
        SettlementsProjector(db),
        LiveUpdatesProjector(db),
        LedgerProjector(db),
        CorporateActionsProjector(db),
    ]


def postgres_read_model_elsewhere(key_dir: Path, name: str, replica: Database) -> PostgresProjector:
    """The read model `name` as `postgres_read_models` builds it for a replay, built in another process."""
    key = SigningKey.load_or_create(key_dir)
    return next(f for f in postgres_read_models(replica, key) if f.name == name)


def replay_elsewhere(key_dir: Path) -> list[dict[str, Builder]]:
    """The processes a rebuild runs its PostgreSQL read models in (`bondflow.wiring.replay.feed`): the
    regulator stream in one (it reads the stored JSON itself and hashes and chains every event), every
    other read model in another (decoding the log once for all of them), and this process only reads the
    log and sends it on, besides any ClickHouse read model (chDB: one process per data path)."""
    key = SigningKey.load_or_create(key_dir)
    names = [f.name for f in postgres_read_models(cast(Database, None), key)]  # their names only: no database

    def built(name: str) -> Builder:
        return functools.partial(postgres_read_model_elsewhere, key_dir, name)

    stream = RegulatorStreamProjector.name
    return [{stream: built(stream)}, {name: built(name) for name in names if name != stream}]


def clickhouse_read_models(clickhouse: ClickHouse) -> list[ClickHouseProjector]:
    return [OrderFlowProjector(clickhouse), FillAnalyticsProjector(clickhouse)]


def _lags(container: Container) -> dict[str, int]:
    """Events of its topics each follower has still to process (`runtime/lag.py`). Positions are read
    before the head, so that the log growing while they are read cannot make a follower look ahead of it
    (a negative lag)."""
    where = {
        name: (runner.position(), runner.follower.topics) for name, runner in container.followers.items()
    }
    return pending_events(container.store, where, container.store.head_position())
