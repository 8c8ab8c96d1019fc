"""What the composition root builds: every service the routes and workers need, built once from settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from bondflow.adapters.clickhouse import ClickHouse
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import SharedFaults
from bondflow.auth.keys import SigningKey
from bondflow.auth.tokens import TokenService
from bondflow.clock import Clock
from bondflow.eventstore import EventStore
from bondflow.followers import FollowerRunner
from bondflow.investors import Investors
from bondflow.metrics import Metrics
from bondflow.payments import Payments
from bondflow.settings import Settings
from bondflow.settlement.context import Settling
from bondflow.trading import Trading
from commands.instruments import InstrumentCommands
from commands.orders import OrderCommands

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
    orders: OrderCommands
    instruments: InstrumentCommands
    metrics: Metrics
    investors: Investors
    payments: Payments
    trading: Trading
    settlement: Settling
    faults: dict[str, SharedFaults] = field(default_factory=dict)  # the sandbox adapters' fault switches
    followers: dict[str, FollowerRunner] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)
    processes: list[Any] = field(default_factory=list)  # supervised worker processes (`serve`)

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
        for process in self.processes:
            process.stop()
        self.investors.close()
        self.payments.close()
        self.stop_followers()
        self.store.close()
        self.db.close()
