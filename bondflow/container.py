"""What the composition root builds: every service the routes and workers need, built once from settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bondflow.adapters.clickhouse import ClickHouse
from bondflow.adapters.postgres import Database
from bondflow.auth.keys import SigningKey
from bondflow.auth.tokens import TokenService
from bondflow.clock import Clock
from bondflow.eventstore import EventStore
from bondflow.followers import FollowerRunner
from bondflow.metrics import Metrics
from bondflow.settings import Settings
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
    followers: dict[str, FollowerRunner] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)

    def start_followers(self, names: list[str] | None = None) -> None:
        for name, runner in self.followers.items():
            if (names is None or name in names) and name not in self.running:
                runner.start()
                self.running.append(name)

    def stop_followers(self) -> None:
        for name in list(self.running):
            self.followers[name].stop()
            self.running.remove(name)

    def close(self) -> None:
        self.stop_followers()
        self.store.close()
        self.db.close()
