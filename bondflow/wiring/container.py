"""What the composition root builds: every service the routes and workers need, built once from settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from psycopg import sql

from bondflow.adapters.clickhouse import ClickHouse
from bondflow.adapters.postgres import Database
from bondflow.adapters.rate_buckets import TokenBuckets
from bondflow.adapters.sandbox_faults import SharedFaults
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import FollowerRunner
from bondflow.runtime.metrics import Metrics
from bondflow.runtime.position_waits import PositionWaits
from bondflow.security.keys import SigningKey
from bondflow.security.tokens import TokenService
from bondflow.settings import Settings
from bondflow.wiring.corporate_actions import CorporateActions
from bondflow.wiring.investors import Investors
from bondflow.wiring.ledger import Ledgering
from bondflow.wiring.payments import Payments
from bondflow.wiring.settlement import Settling
from bondflow.wiring.trading import Trading
from commands.instruments.handlers import InstrumentCommands
from projections.live.feed import LiveFeed

if TYPE_CHECKING:
    from bondflow.api.rate_limits import RouteLimits

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    clock: Clock
    db: Database
    store: EventStore
    clickhouse: ClickHouse
    signing_key: SigningKey
    tokens: TokenService
    instruments: InstrumentCommands
    metrics: Metrics
    investors: Investors
    payments: Payments
    trading: Trading
    settlement: Settling
    ledger: Ledgering  # journal entries, the escrow bank's book, reconciliation
    waits: PositionWaits  # queries parked until a read model reaches their min_position
    corporate_actions: CorporateActions  # coupons, redemptions, token mint and burn, TDS
    live: LiveFeed  # live-update streams: their wake-ups and the per-user bound
    faults: dict[str, SharedFaults] = field(default_factory=dict)  # the sandbox adapters' fault switches
    followers: dict[str, FollowerRunner] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)
    processes: list[Any] = field(default_factory=list)  # supervised worker processes (`serve`)
    rate_buckets: TokenBuckets | None = None  # shared token buckets in PostgreSQL (API.md rate limits)
    route_limits: RouteLimits | None = None  # which buckets each /v1 route takes

    def start_followers(self, names: list[str] | None = None) -> None:
        for name, runner in self.followers.items():
            if (names is None or name in names) and name not in self.running:
                runner.start()
                self.running.append(name)

    def stop_followers(self) -> None:
        """Signal every follower first, wake them all with one NOTIFY, then wait for each."""
        runners = [self.followers[name] for name in self.running]
        for runner in runners:
            runner.signal_stop()
        try:
            with self.db.dedicated_connection() as conn:
                conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(self.store.listen_channel)))
        except Exception:  # waking is an optimisation: followers also stop at their next idle timeout
            log.debug("could not wake followers", exc_info=True)
        for runner in runners:
            runner.stop()
        self.running.clear()

    def close(self) -> None:
        self.waits.close()
        self.live.close()
        for process in self.processes:
            process.stop()
        self.investors.close()
        self.payments.close()
        self.settlement.close()
        self.stop_followers()
        self.store.close()
        if self.rate_buckets is not None:
            self.rate_buckets.close()
        self.db.close()
