"""Instrument and calendar commands (admin): list a bond, suspend/resume it, set its reference price,
add a market holiday."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from bondflow.domain.bonds import BondMathError, BondTerms, DayCount
from bondflow.domain.bonds.amortising import PartialRedemption, validate_redemptions
from bondflow.domain.ids import derived_id
from bondflow.domain.instruments import RATING_BUCKETS, Instrument
from bondflow.domain.market_calendar import INDIA, MarketCalendar, calendar_id
from bondflow.domain.values import CleanPrice, Isin, decimal_with_places, exact_decimal
from bondflow.errors import InstrumentAlreadyListed, InvalidRequest, NotFound
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore
from commands.kernel.conflicts import decide_and_save
from commands.kernel.context import Accepted, CommandContext

INVESTOR_CATEGORIES = ("retail", "hni", "institutional")
MAX_COUPON = Decimal(1000)  # above BondTerms' own bound, which then names the rule; fits decimal(9,4)
MAX_FACE = Decimal(10**12)  # INR per unit: far above any bond, and it fits decimal(20,2)
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _field(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {message}", {"fields": {field: message}})


def _text(body: dict[str, Any], field: str, *, max_length: int = 200) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise _field(field, f"must be a non-empty string of at most {max_length} characters")
    return value.strip()


def parse_date(value: object, field: str) -> date:
    if not isinstance(value, str):
        raise _field(field, "must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _field(field, "must be a date YYYY-MM-DD") from None


def _choices(value: object, field: str, allowed: tuple[str, ...] | None) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _field(field, "must be a non-empty list of strings")
    items = sorted(set(value))
    if allowed is not None and not set(items) <= set(allowed):
        raise _field(field, f"allowed values: {', '.join(allowed)}")
    if allowed is None and not all(_COUNTRY.match(v) for v in items):
        raise _field(field, "must be ISO 3166 alpha-2 country codes")
    return items


def _redemptions(terms: BondTerms, raw: object) -> tuple[PartialRedemption, ...]:
    """`[{"on": "2027-04-15", "principal_per_unit": "250"}, …]`: an amortising bond's partial redemptions."""
    if not isinstance(raw, list) or len(raw) > 100:
        raise _field("redemption_schedule", "must be a list of at most 100 {on, principal_per_unit}")
    steps = []
    for index, row in enumerate(raw):
        name = f"redemption_schedule[{index}]"
        if not isinstance(row, dict) or set(row) != {"on", "principal_per_unit"}:
            raise _field(name, "must be {on, principal_per_unit}")
        steps.append(
            PartialRedemption(
                parse_date(row["on"], f"{name}.on"),
                exact_decimal(row["principal_per_unit"], f"{name}.principal_per_unit"),
            )
        )
    try:
        validate_redemptions(terms, tuple(steps))
    except BondMathError as exc:
        raise _field(exc.field, exc.message) from exc
    return tuple(steps)


LIST_FIELDS = {
    "isin",
    "issuer",
    "name",
    "coupon_rate",
    "coupon_frequency",
    "issue_date",
    "maturity_date",
    "face_value",
    "day_count",
    "rating",
    "eligible_investor_categories",
    "allowed_residencies",
    "record_date_days",
    "lockup_until",
    "reference_clean_price",
    "price_band_pct",
    "redemption_schedule",
}


@dataclass(frozen=True)
class ListInstrument:
    fields: dict[str, Any]
    redemptions: tuple[PartialRedemption, ...] = ()

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> ListInstrument:
        extra = sorted(set(body) - LIST_FIELDS)
        if extra:
            raise InvalidRequest(
                f"unknown fields: {', '.join(extra)}", {"fields": dict.fromkeys(extra, "not allowed")}
            )
        terms = _terms(body)
        rating = body.get("rating")
        if rating not in RATING_BUCKETS:
            raise _field("rating", f"one of {', '.join(RATING_BUCKETS)}")
        record_days = body.get("record_date_days", 15)
        if isinstance(record_days, bool) or not isinstance(record_days, int) or not 0 <= record_days <= 60:
            raise _field("record_date_days", "an integer from 0 to 60")
        band = decimal_with_places(body.get("price_band_pct", "5"), "price_band_pct", 2, Decimal(50))
        if not Decimal(0) < band <= Decimal(50):
            raise _field("price_band_pct", "greater than 0 and at most 50")
        lockup = body.get("lockup_until")
        redemptions = _redemptions(terms, body.get("redemption_schedule", []))
        return cls(
            {
                "isin": Isin.parse(body.get("isin")).value,
                "issuer": _text(body, "issuer"),
                "name": _text(body, "name"),
                "coupon_rate": terms.coupon_rate,
                "coupon_frequency": terms.coupon_frequency,
                "issue_date": terms.issue_date,
                "maturity_date": terms.maturity_date,
                "face_value": terms.face_value,
                "day_count": terms.day_count.value,
                "rating": rating,
                "rating_bucket": RATING_BUCKETS[str(rating)],
                "eligible_investor_categories": _choices(
                    body.get("eligible_investor_categories", list(INVESTOR_CATEGORIES)),
                    "eligible_investor_categories",
                    INVESTOR_CATEGORIES,
                ),
                "allowed_residencies": _choices(
                    body.get("allowed_residencies", ["IN"]), "allowed_residencies", None
                ),
                "record_date_days": record_days,
                "lockup_until": None if lockup is None else parse_date(lockup, "lockup_until"),
                "reference_clean_price": CleanPrice.parse(
                    body.get("reference_clean_price"), "reference_clean_price"
                ).value,
                "price_band_pct": band,
            },
            redemptions,
        )


def _terms(body: dict[str, Any]) -> BondTerms:
    """The bond's terms from a listing request, each field checked (bond maths refuses what cannot be)."""
    frequency = body.get("coupon_frequency")
    if isinstance(frequency, bool) or not isinstance(frequency, int):
        raise _field("coupon_frequency", "must be 1, 2, 4 or 12")
    day_count = body.get("day_count")
    if not isinstance(day_count, str) or day_count not in {d.value for d in DayCount}:
        raise _field("day_count", f"one of {', '.join(d.value for d in DayCount)}")
    try:
        return BondTerms(
            coupon_rate=decimal_with_places(body.get("coupon_rate"), "coupon_rate", 4, MAX_COUPON),
            coupon_frequency=frequency,
            issue_date=parse_date(body.get("issue_date"), "issue_date"),
            maturity_date=parse_date(body.get("maturity_date"), "maturity_date"),
            face_value=decimal_with_places(body.get("face_value", "1000"), "face_value", 2, MAX_FACE),
            day_count=DayCount(body["day_count"]),
        )
    except BondMathError as exc:
        raise _field(exc.field, exc.message) from exc


class InstrumentCommands:
    def __init__(self, store: EventStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def list_instrument(self, command: ListInstrument, ctx: CommandContext) -> Accepted:
        isin = command.fields["isin"]
        instrument = Instrument(
            id=derived_id("instrument", isin),
            **command.fields,
            actor_id=ctx.actor_id,
            request_id=ctx.request_id,
        )
        if command.redemptions:
            instrument.set_redemption_schedule(
                command.redemptions, actor_id=ctx.actor_id, request_id=ctx.request_id
            )
        try:
            position = self.store.save_and_position(instrument)
        except IntegrityError:
            raise InstrumentAlreadyListed(
                "an instrument with this ISIN is already listed", {"isin": isin}
            ) from None
        return Accepted({"isin": isin, "state": "tradable"}, position)

    def load(self, isin: str) -> Instrument:
        try:
            instrument: Instrument = self.store.repository.get(
                derived_id("instrument", Isin.parse(isin).value)
            )
        except AggregateNotFoundError:
            raise NotFound("instrument not found", {"isin": isin}) from None
        if not isinstance(instrument, Instrument):  # pragma: no cover - ids are namespaced by kind
            raise NotFound("instrument not found", {"isin": isin})
        return instrument

    def suspend(self, isin: str, reason: str, ctx: CommandContext) -> Accepted:
        instrument = self.load(isin)
        instrument.suspend(reason=reason, actor_id=ctx.actor_id, request_id=ctx.request_id)
        return self._saved(instrument)

    def resume(self, isin: str, ctx: CommandContext) -> Accepted:
        instrument = self.load(isin)
        instrument.resume(actor_id=ctx.actor_id, request_id=ctx.request_id)
        return self._saved(instrument)

    def set_reference_price(self, isin: str, price: CleanPrice, ctx: CommandContext) -> Accepted:
        instrument = self.load(isin)
        instrument.set_reference_price(
            clean_price=price.value, as_of=self.clock.now(), actor_id=ctx.actor_id, request_id=ctx.request_id
        )
        return self._saved(instrument)

    def _saved(self, instrument: Instrument) -> Accepted:
        position = self.store.save_and_position(instrument)
        state = instrument.state_on(self.clock.now().date())
        data = {
            "isin": instrument.isin,
            "state": state.value,
            "reference_clean_price": instrument.reference_clean_price,
        }
        return Accepted(data, position)

    def add_holiday(self, day: date, name: str, ctx: CommandContext) -> Accepted:

        def attempt() -> Accepted:
            calendar = self._calendar(ctx)
            if not calendar.add_holiday(day=day, name=name, actor_id=ctx.actor_id, request_id=ctx.request_id):
                return Accepted({"date": day, "name": calendar.holidays[day]}, self.store.head_position())
            position = self.store.save_and_position(calendar)
            return Accepted({"date": day, "name": calendar.holidays[day]}, position)

        return decide_and_save(attempt, what="the market calendar")

    def holiday_count(self) -> int:
        try:
            calendar: MarketCalendar = self.store.repository.get(calendar_id())
        except AggregateNotFoundError:
            return 0
        return len(calendar.holidays)

    def _calendar(self, ctx: CommandContext) -> MarketCalendar:
        try:
            calendar: MarketCalendar = self.store.repository.get(calendar_id())
        except AggregateNotFoundError:
            calendar = MarketCalendar(
                id=calendar_id(), market=INDIA, actor_id=ctx.actor_id, request_id=ctx.request_id
            )
        if not isinstance(calendar, MarketCalendar):  # pragma: no cover - ids are namespaced by kind
            raise TypeError("calendar id holds another aggregate")
        return calendar
