"""The Instrument aggregate: the bond master (listed, suspended, resumed, reference price).

Event class paths (`bondflow.domain.instruments:Instrument.Listed`, …) are stored data: never move them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.bonds import BondTerms, DayCount
from bondflow.domain.bonds.amortising import PartialRedemption, validate_redemptions


class MarketState(StrEnum):
    TRADABLE = "tradable"
    SUSPENDED = "suspended"
    MATURED = "matured"


class Listing(Protocol):
    """What a bond's terms and market state are read from: the aggregate, or its row in the read model."""

    @property
    def coupon_rate(self) -> Decimal: ...
    @property
    def coupon_frequency(self) -> int: ...
    @property
    def issue_date(self) -> date: ...
    @property
    def maturity_date(self) -> date: ...
    @property
    def face_value(self) -> Decimal: ...
    @property
    def day_count(self) -> str: ...
    @property
    def suspended(self) -> bool: ...


def terms_of(listing: Listing) -> BondTerms:
    return BondTerms(
        coupon_rate=listing.coupon_rate.normalize(),  # the same rate however many zeros it was stored with
        coupon_frequency=listing.coupon_frequency,
        issue_date=listing.issue_date,
        maturity_date=listing.maturity_date,
        face_value=listing.face_value,
        day_count=DayCount(listing.day_count),
    )


def market_state(listing: Listing, today: date) -> MarketState:
    """Matured from its maturity date on, whatever else; otherwise suspended or tradable."""
    if today >= listing.maturity_date:
        return MarketState.MATURED
    return MarketState.SUSPENDED if listing.suspended else MarketState.TRADABLE


RATING_BUCKETS = {
    "SOV": "SOV",
    "AAA": "AAA",
    **dict.fromkeys(("AA+", "AA", "AA-"), "AA"),
    **dict.fromkeys(("A+", "A", "A-"), "A"),
    **dict.fromkeys(("BBB+", "BBB", "BBB-"), "BBB"),
    **dict.fromkeys(("BB+", "BB", "BB-", "B+", "B", "B-", "C", "D"), "SUB_IG"),
}


class Instrument(Aggregate):
    redemption_schedule: tuple[PartialRedemption, ...] = ()  # partial redemptions (amortising bonds)

    class Listed(Aggregate.Created):
        isin: str
        issuer: str
        name: str
        coupon_rate: Decimal
        coupon_frequency: int
        issue_date: date
        maturity_date: date
        face_value: Decimal
        day_count: str
        rating: str
        rating_bucket: str
        eligible_investor_categories: list[str]
        allowed_residencies: list[str]
        record_date_days: int
        lockup_until: date | None
        reference_clean_price: Decimal
        price_band_pct: Decimal
        actor_id: str
        request_id: str

    @event(Listed)
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
        return terms_of(self)

    def state_on(self, today: date) -> MarketState:
        return market_state(self, today)

    def suspend(self, *, reason: str, actor_id: str, request_id: str) -> None:
        """Idempotent: suspending a suspended instrument records nothing."""
        if self.suspended:
            return
        self._suspended(reason=reason, actor_id=actor_id, request_id=request_id)

    class Suspended(Aggregate.Event):
        reason: str
        actor_id: str
        request_id: str

    @event(Suspended)
    def _suspended(self, *, reason: str, actor_id: str, request_id: str) -> None:
        self.suspended = True
        self.suspension_reason = reason

    def resume(self, *, actor_id: str, request_id: str) -> None:
        """Idempotent: resuming a tradable instrument records nothing."""
        if not self.suspended:
            return
        self._resumed(actor_id=actor_id, request_id=request_id)

    class Resumed(Aggregate.Event):
        actor_id: str
        request_id: str

    @event(Resumed)
    def _resumed(self, *, actor_id: str, request_id: str) -> None:
        self.suspended = False
        self.suspension_reason = None

    def set_reference_price(
        self, *, clean_price: Decimal, as_of: datetime, actor_id: str, request_id: str
    ) -> None:
        self._reference_price_set(
            clean_price=clean_price, as_of=as_of, actor_id=actor_id, request_id=request_id
        )

    class ReferencePriceSet(Aggregate.Event):
        clean_price: Decimal
        as_of: datetime
        actor_id: str
        request_id: str

    @event(ReferencePriceSet)
    def _reference_price_set(
        self, *, clean_price: Decimal, as_of: datetime, actor_id: str, request_id: str
    ) -> None:
        self.reference_clean_price = clean_price

    def set_redemption_schedule(
        self, steps: tuple[PartialRedemption, ...], *, actor_id: str, request_id: str
    ) -> None:
        """Partial redemptions on coupon dates (validated against the terms); the rest is paid at maturity."""
        validate_redemptions(self.terms, steps)
        rows = [{"on": s.on, "principal_per_unit": s.principal_per_unit} for s in steps]
        self._redemption_schedule_set(isin=self.isin, steps=rows, actor_id=actor_id, request_id=request_id)

    class RedemptionScheduleSet(Aggregate.Event):
        isin: str
        steps: list[dict[str, Any]]
        actor_id: str
        request_id: str

    @event(RedemptionScheduleSet)
    def _redemption_schedule_set(
        self, *, isin: str, steps: list[dict[str, Any]], actor_id: str, request_id: str
    ) -> None:
        self.redemption_schedule = tuple(
            PartialRedemption(row["on"], Decimal(row["principal_per_unit"])) for row in steps
        )
