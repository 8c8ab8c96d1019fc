"""Pre-trade checks, in DOMAIN.md's order, as one pure function: facts in → an approval or the first refusal.

1. request shape (done at the edge: `commands.orders.PlaceOrder`), 2. investor KYC and eligibility,
3. instrument tradable today, 4. price band, 5. limits on the position after the order, 6. funds/holdings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from bondflow.domain.policy import InvestorAttributes, Requirement, check_attributes
from bondflow.domain.portfolio import Position
from bondflow.errors import InsufficientFunds, LimitBreached, NotTradable, PriceOutsideBand

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
    accrued_per_100: Decimal
    duration_bucket: str


@dataclass(frozen=True, slots=True)
class MarketFacts:
    today: date
    is_business_day: bool
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
    width = instrument.reference_clean_price * instrument.price_band_pct / HUNDRED
    return instrument.reference_clean_price - width, instrument.reference_clean_price + width


def consideration(
    qty: Decimal, face_value: Decimal, clean_price: Decimal, accrued_per_100: Decimal, fee_bps: Decimal
) -> Decimal:
    """qty × face × (clean + accrued) / 100 + fees, rounded up to the paisa (a reservation never falls short)."""
    gross = qty * face_value * (clean_price + accrued_per_100) / HUNDRED
    fees = gross * fee_bps / Decimal(10000)
    return (gross + fees).quantize(PAISE, rounding=ROUND_CEILING)


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
) -> Approval:
    _check_investor(investor, instrument)
    _check_tradable(order, instrument, market)
    price_cap = _check_band(order, instrument)
    if order.side == "BUY":
        _check_limits(order, instrument, limits, exposure)
        cash = consideration(order.qty, instrument.face_value, price_cap, instrument.accrued_per_100, fee_bps)
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
    coupon = instrument.next_coupon_payment
    if coupon is not None and coupon - timedelta(days=instrument.record_date_days) <= market.today < coupon:
        raise NotTradable(
            "inside the record-date window before a coupon",
            {"isin": isin, "rule": "record_date", "coupon_date": str(coupon)},
        )
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
                "band_low": str(low.quantize(Decimal("0.0001"))),
                "band_high": str(high.quantize(Decimal("0.0001"))),
                "reference_clean_price": str(instrument.reference_clean_price),
            },
        )
    return order.limit_clean_price


def _check_limits(
    order: OrderFacts, instrument: InstrumentFacts, limits: Limits, exposure: list[Position]
) -> None:
    added = order.qty * instrument.face_value
    checks = (
        ("per_user", limits.per_user, lambda p: True),
        ("per_issuer", limits.per_issuer, lambda p: p.issuer == instrument.issuer),
        (
            f"per_rating_bucket:{instrument.rating_bucket}",
            limits.per_rating_bucket.get(instrument.rating_bucket, Decimal(0)),
            lambda p: p.rating_bucket == instrument.rating_bucket,
        ),
        (
            f"per_duration_bucket:{instrument.duration_bucket}",
            limits.per_duration_bucket.get(instrument.duration_bucket, Decimal(0)),
            lambda p: p.duration_bucket == instrument.duration_bucket,
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
