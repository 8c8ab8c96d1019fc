"""What the coupon job needs from the log, read incrementally: listed ISINs and their issuers, every settled
trade as a dated movement of units (the holders of record are computed from these), the holiday calendar's
changes and the listing mints already recorded. A restart reads the log once from the start."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from bondflow.domain.entitlement import Movement
from bondflow.domain.instruments import Instrument
from bondflow.domain.market_calendar import MarketCalendar
from bondflow.domain.tokens import TokenMovement
from bondflow.domain.trades import Trade
from bondflow.runtime.clock import IST
from bondflow.runtime.effect_follower import topic_of
from bondflow.runtime.eventstore import EventStore

LISTED = topic_of(Instrument.Listed)
SETTLED = topic_of(Trade.TradeSettled)
HOLIDAY = topic_of(MarketCalendar.HolidayAdded)
MINTED = topic_of(TokenMovement.Minted)
SCHEDULE_SET = "bondflow.domain.instruments:Instrument.RedemptionScheduleSet"
TOPICS = (LISTED, SETTLED, HOLIDAY, MINTED, SCHEDULE_SET)
BATCH = 1000


class LogFacts:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.position = 0
        self.issuer_of: dict[str, str] = {}
        self.listed_on: dict[str, date] = {}  # actions whose record date came before the listing are not ours
        self.movements: dict[str, list[Movement]] = defaultdict(list)
        self.minted_keys: set[str] = set()
        self.calendar_version = 0  # bumped by every holiday: cached schedules are then rebuilt
        self.instrument_versions: dict[str, int] = defaultdict(int)

    def refresh(self) -> bool:
        """Read what the log gained since the last call; whether anything relevant arrived."""
        changed = False
        while True:
            batch = self.store.recorder.select_notifications(
                start=self.position + 1, limit=BATCH, topics=TOPICS
            )
            if not batch:
                return changed
            for notification in batch:
                self._apply(self.store.mapper.to_domain_event(notification))
            self.position = batch[-1].id
            changed = True

    def _apply(self, event: Any) -> None:
        if isinstance(event, Instrument.Listed):
            self.issuer_of[event.isin] = event.issuer
            self.listed_on[event.isin] = event.timestamp.astimezone(IST).date()
            self.instrument_versions[event.isin] += 1
        elif isinstance(event, Trade.TradeSettled):
            units = Decimal(event.qty) if event.side == "BUY" else -Decimal(event.qty)
            settled_on = event.timestamp.astimezone(IST).date()
            self.movements[event.isin].append(Movement(event.user_id, units, settled_on))
        elif isinstance(event, MarketCalendar.HolidayAdded):
            self.calendar_version += 1
        elif isinstance(event, TokenMovement.Minted):
            self.minted_keys.add(event.idempotency_key)
        elif type(event).__qualname__ == "Instrument.RedemptionScheduleSet":
            self.instrument_versions[str(event.isin)] += 1
