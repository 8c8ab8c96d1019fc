"""Facts about an instrument that order commands and the execution worker decide on, read from the
event store (the write side's own source of truth, not the eventually consistent read models)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache

from eventsourcing.application import AggregateNotFoundError

from bondflow.domain.bonds import BondTerms, BusinessCalendar, analyse, build_schedule
from bondflow.domain.eligibility import next_payment, settlement_date
from bondflow.domain.ids import derived_id
from bondflow.domain.instruments import Instrument
from bondflow.domain.market_calendar import MarketCalendar, calendar_id
from bondflow.domain.pretrade import InstrumentFacts, duration_bucket
from bondflow.domain.scales import ACCRUED_PER_100_PLACES, half_up
from bondflow.domain.trade_amounts import reservation_accrued
from bondflow.errors import NotTradable
from bondflow.runtime.eventstore import EventStore


@lru_cache(maxsize=4096)
def _accrued_and_duration(
    terms: BondTerms, calendar: BusinessCalendar, settlement: date, reference: Decimal
) -> tuple[Decimal, Decimal]:
    """Accrued interest per 100 face at settlement (at its contract's scale, half-up: the value every
    consideration is computed from and `TradeExecuted` records), and modified duration at the reference."""
    figures = analyse(terms, calendar, settlement, clean_price=reference)
    return half_up(figures.accrued_interest, ACCRUED_PER_100_PLACES), figures.modified_duration


@lru_cache(maxsize=4096)
def _reservation_accrued(terms: BondTerms, calendar: BusinessCalendar, today: date) -> Decimal:
    """At the scale trades record accrued (half-up is monotone, so it stays above any execution's)."""
    return half_up(reservation_accrued(terms, calendar, today), ACCRUED_PER_100_PLACES)


class MarketData:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    def calendar(self) -> BusinessCalendar:
        try:
            calendar: MarketCalendar = self.store.repository.get(calendar_id())
        except AggregateNotFoundError:
            return BusinessCalendar()
        return calendar.business_calendar()

    def instrument(self, isin: str) -> Instrument:
        try:
            instrument: Instrument = self.store.repository.get(derived_id("instrument", isin))
        except AggregateNotFoundError:
            raise NotTradable("instrument is not listed", {"isin": isin, "rule": "listed"}) from None
        return instrument

    def facts(self, isin: str, today: date) -> tuple[InstrumentFacts, BusinessCalendar, date]:
        """The instrument's facts for trading today, the calendar, and the settlement date (T+1).

        Accrued interest, duration and the next payment are taken at the settlement date, which is when
        maturity and the record-date window are judged (`bondflow.domain.eligibility`)."""
        instrument = self.instrument(isin)
        calendar = self.calendar()
        settlement = settlement_date(calendar, today)
        terms = instrument.terms
        schedule = build_schedule(terms, calendar)
        next_coupon = next_payment(schedule.coupons, settlement)
        accrued, modified = Decimal(0), Decimal(0)
        if terms.issue_date <= settlement < schedule.interest_end_date:
            accrued, modified = _accrued_and_duration(
                terms, calendar, settlement, instrument.reference_clean_price
            )
        facts = InstrumentFacts(
            isin=instrument.isin,
            issuer=instrument.issuer,
            rating_bucket=instrument.rating_bucket,
            face_value=instrument.face_value,
            maturity_date=instrument.maturity_date,
            suspended=instrument.suspended,
            record_date_days=instrument.record_date_days,
            lockup_until=instrument.lockup_until,
            eligible_investor_categories=frozenset(instrument.eligible_investor_categories),
            allowed_residencies=frozenset(instrument.allowed_residencies),
            reference_clean_price=instrument.reference_clean_price,
            price_band_pct=instrument.price_band_pct,
            next_coupon_payment=None if next_coupon is None else next_coupon.payment_date,
            accrued_per_100=accrued,
            duration_bucket=duration_bucket(modified),
            redemption_payment_date=schedule.redemption_payment_date,
            max_accrued_per_100=_reservation_accrued(terms, calendar, today),
        )
        return facts, calendar, settlement
