"""Tax deducted at source on interest (Income-tax Act, as commonly applied by Indian issuers): the rules as
configuration and one pure decision per coupon payment. Principal repayments carry no TDS.

The rules, first match wins (DOMAIN.md "Corporate actions"):
1. Government securities (G-secs, SDLs: rating bucket `SOV`): no TDS (`exempt_gsec`).
2. Non-resident holder (residency other than IN): the s.195 rate, base × (1 + surcharge) × (1 + cess)
   (20% + 0% + 4% = 20.8% by default; all three configurable), whatever the amount (`s195_non_resident`).
3. A Form 15G/15H declaration on record for the financial year of the payment: none (`declaration_15g_15h`).
4. Below the threshold: when the holder's interest from the issuer in the financial year, this payment
   included, does not exceed the threshold (₹10,000 from FY 2025-26, ₹5,000 before): none
   (`below_threshold`). The threshold applies to individuals (retail, HNI); institutions have none.
5. No PAN on record: 20% (s.206AA, `s206aa_no_pan`).
6. Otherwise 10% (s.193, `s193`).
*Interpretation*: once the year's interest crosses the threshold, the payment that crosses it and every
later one in that year are taxed on their own gross; earlier payments of the year are not taxed again.
TDS rounds half up to the paisa; net = gross − TDS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from bondflow.domain.bonds.arithmetic import MATH_CONTEXT, round_money

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
ONE = Decimal(1)


class TdsRule(StrEnum):
    EXEMPT_GSEC = "exempt_gsec"
    NON_RESIDENT = "s195_non_resident"
    DECLARATION = "declaration_15g_15h"
    BELOW_THRESHOLD = "below_threshold"
    NO_PAN = "s206aa_no_pan"
    RESIDENT = "s193"


SECTIONS = {
    TdsRule.EXEMPT_GSEC: "none",
    TdsRule.NON_RESIDENT: "195",
    TdsRule.DECLARATION: "197A",
    TdsRule.BELOW_THRESHOLD: "193",
    TdsRule.NO_PAN: "206AA",
    TdsRule.RESIDENT: "193",
}


def financial_year(day: date) -> int:
    """The Indian financial year (April to March) `day` falls in, named by its first year: FY 2025-26 → 2025."""
    return day.year if day.month >= 4 else day.year - 1


def financial_year_label(year: int) -> str:
    return f"{year}-{(year + 1) % 100:02d}"


def quarter_of(day: date) -> int:
    """The financial-year quarter (1 = Apr-Jun … 4 = Jan-Mar), as Form 16A counts them."""
    return (day.month - 4) % 12 // 3 + 1


@dataclass(frozen=True, slots=True)
class TdsConfig:
    """Rates in percent; thresholds in INR per financial year (first year of the FY → threshold, the latest
    at or before a year applies)."""

    resident_rate: Decimal = Decimal(10)
    no_pan_rate: Decimal = Decimal(20)
    non_resident_base_rate: Decimal = Decimal(20)
    non_resident_surcharge_pct: Decimal = Decimal(0)
    non_resident_cess_pct: Decimal = Decimal(4)
    thresholds: dict[int, Decimal] = field(
        default_factory=lambda: {2000: Decimal(5000), 2025: Decimal(10000)}
    )
    threshold_categories: frozenset[str] = frozenset({"retail", "hni"})
    exempt_rating_buckets: frozenset[str] = frozenset({"SOV"})
    home_country: str = "IN"

    def threshold(self, fy: int) -> Decimal:
        years = [y for y in self.thresholds if y <= fy]
        return self.thresholds[max(years)] if years else ZERO

    @property
    def non_resident_rate(self) -> Decimal:
        surcharge = ONE + self.non_resident_surcharge_pct / HUNDRED
        cess = ONE + self.non_resident_cess_pct / HUNDRED
        return MATH_CONTEXT.multiply(MATH_CONTEXT.multiply(self.non_resident_base_rate, surcharge), cess)


@dataclass(frozen=True, slots=True)
class TaxProfile:
    """What the platform knows of a holder for TDS: residency, category, PAN, declarations by FY."""

    residency: str
    investor_category: str
    has_pan: bool
    declarations: frozenset[int] = frozenset()  # financial years with a 15G/15H on record


@dataclass(frozen=True, slots=True)
class TdsDecision:
    rule: TdsRule
    rate_pct: Decimal
    gross: Decimal
    tds: Decimal
    net: Decimal
    financial_year: int

    @property
    def section(self) -> str:
        return SECTIONS[self.rule]


def assess(
    config: TdsConfig,
    profile: TaxProfile,
    *,
    rating_bucket: str,
    gross: Decimal,
    paid_on: date,
    earlier_interest_in_fy: Decimal,
) -> TdsDecision:
    """The TDS on one coupon payment of `gross` to a holder who already received `earlier_interest_in_fy`
    from the same issuer in the financial year of `paid_on`."""
    fy = financial_year(paid_on)
    rule = _rule(config, profile, rating_bucket, fy, earlier_interest_in_fy + gross)
    rate = {
        TdsRule.NON_RESIDENT: config.non_resident_rate,
        TdsRule.NO_PAN: config.no_pan_rate,
        TdsRule.RESIDENT: config.resident_rate,
    }.get(rule, Decimal(0))
    tds = round_money(MATH_CONTEXT.divide(MATH_CONTEXT.multiply(gross, rate), HUNDRED))
    return TdsDecision(rule, rate, gross, tds, gross - tds, fy)


def _rule(
    config: TdsConfig, profile: TaxProfile, rating_bucket: str, fy: int, year_total: Decimal
) -> TdsRule:
    if rating_bucket in config.exempt_rating_buckets:
        return TdsRule.EXEMPT_GSEC
    if profile.residency != config.home_country:
        return TdsRule.NON_RESIDENT
    if fy in profile.declarations and profile.has_pan:  # a declaration without a PAN is not valid
        return TdsRule.DECLARATION
    if profile.investor_category in config.threshold_categories and year_total <= config.threshold(fy):
        return TdsRule.BELOW_THRESHOLD
    return TdsRule.RESIDENT if profile.has_pan else TdsRule.NO_PAN
