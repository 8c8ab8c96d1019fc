"""Pre-trade checks, in DOMAIN.md's order, as one pure function: facts in → an approval or the first refusal.

1. request shape (done at the edge: `commands.trading.orders.PlaceOrder`), 2. investor KYC and eligibility,
3. instrument tradable (today, and on the settlement date: maturity, redemption, record date), 4. price band, 5. limits on the position after the order, 6. funds/holdings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bondflow.domain.eligibility import settlement_refusal
from bondflow.domain.policy import InvestorAttributes, Requirement, check_attributes
from bondflow.domain.portfolio import Position
from bondflow.domain.scales import price_at_least, price_at_most
from bondflow.domain.trade_amounts import trade_amounts
from bondflow.errors import InsufficientFunds, InvalidOrder, LimitBreached, NotTradable, PriceOutsideBand

PAISE = Decimal("0.01")
HUNDRED = Decimal(100)
DURATION_BUCKETS = ((Decimal(3), "0-3y"), (Decimal(7), "3-7y"))


def duration_bucket(modified_duration: Decimal) -> str:
    for upper, name in DURATION_BUCKETS:
        if modified_duration < upper:
            return name
    return "7y+"


@dataclass(frozen=True, slots=True)
class InstrumentFacts:
    isin: str
    issuer: str
    rating_bucket: str
    face_value: Decimal
    maturity_date: date
    suspended: bool
    record_date_days: int
    lockup_until: date | None
    eligible_investor_categories: frozenset[str]
    allowed_residencies: frozenset[str]
    reference_clean_price: Decimal
    price_band_pct: Decimal
    next_coupon_payment: date | None
    accrued_per_100: Decimal  # at the settlement date
    duration_bucket: str
    redemption_payment_date: date | None = None  # None: the maturity date
    max_accrued_per_100: Decimal | None = None  # the most accrued at any settlement date the order can reach

    @property
    def redemption_payment(self) -> date:
        return self.maturity_date if self.redemption_payment_date is None else self.redemption_payment_date

    @property
    def reservation_accrued_per_100(self) -> Decimal:
        return self.accrued_per_100 if self.max_accrued_per_100 is None else self.max_accrued_per_100


@dataclass(frozen=True, slots=True)
class MarketFacts:
    today: date
    is_business_day: bool
    settlement_date: date  # T+1 business days: maturity and the record-date window are judged on it
    allowlist: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on face-value exposure (INR) after the order. Configuration, not code."""

    per_user: Decimal = Decimal("10000000")
    per_issuer: Decimal = Decimal("5000000")
    per_rating_bucket: dict[str, Decimal] = field(
        default_factory=lambda: {
            "SOV": Decimal("10000000"),
            "AAA": Decimal("10000000"),
            "AA": Decimal("5000000"),
            "A": Decimal("2000000"),
            "BBB": Decimal("1000000"),
            "SUB_IG": Decimal("0"),
        }
    )
    per_duration_bucket: dict[str, Decimal] = field(
        default_factory=lambda: {
            "0-3y": Decimal("10000000"),
            "3-7y": Decimal("5000000"),
            "7y+": Decimal("2500000"),
        }
    )


@dataclass(frozen=True, slots=True)
class Buckets:
    """An instrument's rating and duration buckets as they are now (ratings change, duration shortens)."""

    rating: str
    duration: str


@dataclass(frozen=True, slots=True)
class OrderFacts:
    side: str
    qty: Decimal
    limit_clean_price: Decimal | None


@dataclass(frozen=True, slots=True)
class Approval:
    price_cap: Decimal  # the worst clean price the order may trade at (limit, or the band's edge)
    reserve_cash: Decimal  # BUY: the maximum consideration incl. fees; SELL: 0
    reserve_units: Decimal  # SELL: the units; BUY: 0


def band(instrument: InstrumentFacts) -> tuple[Decimal, Decimal]:
    """The band's edges at 4 places, rounded inwards: a 4-place limit is inside the exact band exactly when it
    is inside this one, and an order without a limit is capped at a price the contract can carry."""
    width = instrument.reference_clean_price * instrument.price_band_pct / HUNDRED
    return (
        price_at_least(instrument.reference_clean_price - width),
        price_at_most(instrument.reference_clean_price + width),
    )


def consideration(
    qty: Decimal, face_value: Decimal, clean_price: Decimal, accrued_per_100: Decimal, fee_bps: Decimal
) -> Decimal:
    """qty × face × (clean + accrued) / 100 + fees, gross and fees each rounded half-up to the paisa
    (`bondflow.domain.trade_amounts`, which also says why a reservation computed so never falls short)."""
    return trade_amounts(qty, face_value, clean_price, accrued_per_100, fee_bps).consideration


def check_order(
    order: OrderFacts,
    investor: InvestorAttributes,
    instrument: InstrumentFacts,
    market: MarketFacts,
    limits: Limits,
    exposure: list[Position],
    available_cash: Decimal,
    free_units: Decimal,
    fee_bps: Decimal,
    current_buckets: Mapping[str, Buckets] | None = None,
) -> Approval:
    """`current_buckets` classifies each held ISIN now; a position missing from it keeps the buckets it
    was first bought in."""
    _check_investor(investor, instrument)
    _check_tradable(order, instrument, market)
    price_cap = _check_band(order, instrument)
    if order.side == "BUY":
        _check_limits(order, instrument, limits, exposure, current_buckets or {})
        cash = consideration(
            order.qty, instrument.face_value, price_cap, instrument.reservation_accrued_per_100, fee_bps
        )
        if cash <= 0:
            raise InvalidOrder(
                "qty: the order is worth less than one paisa",
                {"fields": {"qty": "worth less than one paisa"}},
            )
        if available_cash < cash:
            raise InsufficientFunds(
                "available escrow is less than the order's maximum consideration",
                {"available": str(available_cash), "required": str(cash)},
            )
        return Approval(price_cap, cash, Decimal(0))
    if free_units < order.qty:
        raise InsufficientFunds(
            "not enough unreserved holdings for this SELL",
            {"isin": instrument.isin, "available_units": str(free_units), "required_units": str(order.qty)},
        )
    return Approval(price_cap, Decimal(0), order.qty)


def check_still_tradable(order: OrderFacts, instrument: InstrumentFacts, market: MarketFacts) -> Decimal:
    """At execution: checks 3 and 4 again on the execution day's facts (suspension, maturity, redemption and
    the record-date window on the new settlement date; a limit still inside today's band). Returns the
    clean price cap the band allows now (a market order's edge may have moved); raises the refusal."""
    _check_tradable(order, instrument, market)
    return _check_band(order, instrument)


def _check_investor(investor: InvestorAttributes, instrument: InstrumentFacts) -> None:
    check_attributes(
        investor,
        Requirement(
            kyc_verified=True,
            residencies=instrument.allowed_residencies,
            investor_categories=instrument.eligible_investor_categories,
        ),
    )


def _check_tradable(order: OrderFacts, instrument: InstrumentFacts, market: MarketFacts) -> None:
    isin = instrument.isin
    if market.allowlist is not None and isin not in market.allowlist:
        raise NotTradable(
            "instrument is not on the platform's trading allowlist", {"isin": isin, "rule": "allowlist"}
        )
    if instrument.suspended:
        raise NotTradable("instrument is suspended", {"isin": isin, "rule": "suspended"})
    if market.today >= instrument.maturity_date:
        raise NotTradable("instrument has matured", {"isin": isin, "rule": "matured"})
    if not market.is_business_day:
        raise NotTradable(
            "the market is closed today (holiday or weekend)", {"date": str(market.today), "rule": "holiday"}
        )
    refusal = settlement_refusal(
        market.settlement_date,
        maturity_date=instrument.maturity_date,
        redemption_payment_date=instrument.redemption_payment,
        next_payment_date=instrument.next_coupon_payment,
        record_date_days=instrument.record_date_days,
    )
    if refusal is not None:
        raise NotTradable(refusal.message, {"isin": isin, "rule": refusal.rule, **refusal.details})
    if (
        order.side == "SELL"
        and instrument.lockup_until is not None
        and market.today < instrument.lockup_until
    ):
        raise NotTradable(
            "units cannot be sold before the lock-up ends",
            {"isin": isin, "rule": "lockup", "until": str(instrument.lockup_until)},
        )


def _check_band(order: OrderFacts, instrument: InstrumentFacts) -> Decimal:
    low, high = band(instrument)
    if order.limit_clean_price is None:
        return high if order.side == "BUY" else low
    if not low <= order.limit_clean_price <= high:
        raise PriceOutsideBand(
            "limit price is outside the band around the reference price",
            {
                "limit_clean_price": str(order.limit_clean_price),
                "band_low": str(low),
                "band_high": str(high),
                "reference_clean_price": str(instrument.reference_clean_price),
            },
        )
    return order.limit_clean_price


def _check_limits(
    order: OrderFacts,
    instrument: InstrumentFacts,
    limits: Limits,
    exposure: list[Position],
    current_buckets: Mapping[str, Buckets],
) -> None:
    added = order.qty * instrument.face_value

    def buckets(p: Position) -> Buckets:
        return current_buckets.get(p.isin) or Buckets(p.rating_bucket, p.duration_bucket)

    checks = (
        ("per_user", limits.per_user, lambda p: True),
        ("per_issuer", limits.per_issuer, lambda p: p.issuer == instrument.issuer),
        (
            f"per_rating_bucket:{instrument.rating_bucket}",
            limits.per_rating_bucket.get(instrument.rating_bucket, Decimal(0)),
            lambda p: buckets(p).rating == instrument.rating_bucket,
        ),
        (
            f"per_duration_bucket:{instrument.duration_bucket}",
            limits.per_duration_bucket.get(instrument.duration_bucket, Decimal(0)),
            lambda p: buckets(p).duration == instrument.duration_bucket,
        ),
    )
    for name, cap, counts in checks:
        current = sum((p.exposure_units * p.face_value for p in exposure if counts(p)), Decimal(0))
        if current + added > cap:
            raise LimitBreached(
                f"the {name} limit would be breached",
                {
                    "limit": name,
                    "cap": str(cap),
                    "current": str(current),
                    "order": str(added),
                    "headroom": str(max(cap - current, Decimal(0))),
                },
            )
