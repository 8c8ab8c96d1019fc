"""The Instrument aggregate: the bond master (listed, suspended, resumed, reference price).

Event class paths (`bondflow.domain.instruments:Instrument.Listed`, …) are stored data: never move them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.bonds import BondTerms, DayCount


class MarketState(StrEnum):
    TRADABLE = "tradable"
    SUSPENDED = "suspended"
    MATURED = "matured"


RATING_BUCKETS = {
    "SOV": "SOV",
    "AAA": "AAA",
    **dict.fromkeys(("AA+", "AA", "AA-"), "AA"),
    **dict.fromkeys(("A+", "A", "A-"), "A"),
    **dict.fromkeys(("BBB+", "BBB", "BBB-"), "BBB"),
    **dict.fromkeys(("BB+", "BB", "BB-", "B+", "B", "B-", "C", "D"), "SUB_IG"),
}


class Instrument(Aggregate):
    @event("Listed")
    def __init__(
        self,
        *,
        id: UUID,
        isin: str,
        issuer: str,
        name: str,
        coupon_rate: Decimal,
        coupon_frequency: int,
        issue_date: date,
        maturity_date: date,
        face_value: Decimal,
        day_count: str,
        rating: str,
        rating_bucket: str,
        eligible_investor_categories: list[str],
        allowed_residencies: list[str],
        record_date_days: int,
        lockup_until: date | None,
        reference_clean_price: Decimal,
        price_band_pct: Decimal,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.isin = isin
        self.issuer = issuer
        self.name = name
        self.coupon_rate = coupon_rate
        self.coupon_frequency = coupon_frequency
        self.issue_date = issue_date
        self.maturity_date = maturity_date
        self.face_value = face_value
        self.day_count = day_count
        self.rating = rating
        self.rating_bucket = rating_bucket
        self.eligible_investor_categories = eligible_investor_categories
        self.allowed_residencies = allowed_residencies
        self.record_date_days = record_date_days
        self.lockup_until = lockup_until
        self.reference_clean_price = reference_clean_price
        self.price_band_pct = price_band_pct
        self.suspended = False
        self.suspension_reason: str | None = None

    @property
    def terms(self) -> BondTerms:
        return BondTerms(
            coupon_rate=self.coupon_rate,
            coupon_frequency=self.coupon_frequency,
            issue_date=self.issue_date,
            maturity_date=self.maturity_date,
            face_value=self.face_value,
            day_count=DayCount(self.day_count),
        )

    def state_on(self, today: date) -> MarketState:
        if today >= self.maturity_date:
            return MarketState.MATURED
        return MarketState.SUSPENDED if self.suspended else MarketState.TRADABLE

    def suspend(self, *, reason: str, actor_id: str, request_id: str) -> None:
        """Idempotent: suspending a suspended instrument records nothing."""
        if self.suspended:
            return
        self._suspended(reason=reason, actor_id=actor_id, request_id=request_id)

    @event("Suspended")
    def _suspended(self, *, reason: str, actor_id: str, request_id: str) -> None:
        self.suspended = True
        self.suspension_reason = reason

    def resume(self, *, actor_id: str, request_id: str) -> None:
        """Idempotent: resuming a tradable instrument records nothing."""
        if not self.suspended:
            return
        self._resumed(actor_id=actor_id, request_id=request_id)

    @event("Resumed")
    def _resumed(self, *, actor_id: str, request_id: str) -> None:
        self.suspended = False
        self.suspension_reason = None

    def set_reference_price(
        self, *, clean_price: Decimal, as_of: datetime, actor_id: str, request_id: str
    ) -> None:
        self._reference_price_set(
            clean_price=clean_price, as_of=as_of, actor_id=actor_id, request_id=request_id
        )

    @event("ReferencePriceSet")
    def _reference_price_set(
        self, *, clean_price: Decimal, as_of: datetime, actor_id: str, request_id: str
    ) -> None:
        self.reference_clean_price = clean_price
