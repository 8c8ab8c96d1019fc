"""Bond terms and their coupon schedule: accrual periods, payment dates and amounts.

Schedule rule (DOMAIN.md): dates are generated *forward* from the issue date, `issue + k x (12/f)` months
(QuantLib `DateGeneration.Forward`, unadjusted, no end-of-month rule): each date keeps the issue date's day
of month, clamped to the month's length and always counted from the issue date (31 Jan monthly gives
28/29 Feb, 31 Mar, 30 Apr, 31 May ...). Maturity closes the last period; when it is off that grid the last
period is a short stub whose reference (notional regular) period is [stub start, stub start + 12/f months]
or, when the stub is the bond's only period, [maturity − 12/f months, maturity], as QuantLib's
`FixedRateLeg` sets them.

Business days move payments, never accrual: a coupon whose date is not a business day is paid on the next
business day, with the same accrual dates and amount; a maturity on a non-business day is redeemed (and its
last coupon paid) on the previous business day. The one exception is SEBI's rule for listed debt
(`ACT/ACT-SEBI`, circular of 11 Nov 2016): when the maturity is not a business day, interest runs up to but
excluding the earlier redemption payment date, so the last accrual period ends there (it keeps its
notional reference period, which still ends at maturity). Other conventions accrue to the maturity date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from itertools import pairwise

from bondflow.domain.bonds.arithmetic import MATH_CONTEXT
from bondflow.domain.bonds.calendar import BusinessCalendar
from bondflow.domain.bonds.dates import add_months
from bondflow.domain.bonds.daycount import DayCount, year_fraction
from bondflow.domain.bonds.errors import BondMathError

COUPON_FREQUENCIES = (1, 2, 4, 12)
MAX_COUPON_RATE = Decimal(100)  # percent a year; anything above is a typo, not a bond
MAX_TENOR_YEARS = 100
_HUNDRED = Decimal(100)


def require_date(value: object, field: str) -> date:
    """`value` if it is a calendar date (a `datetime` is refused: a time of day has no place here)."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise BondMathError(field, "must be a date")
    return value


def require_decimal(value: object, field: str) -> Decimal:
    """`value` if it is a finite `Decimal` (floats are refused: they cannot hold prices exactly)."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise BondMathError(field, "must be a finite Decimal")
    return value


@dataclass(frozen=True, slots=True)
class BondTerms:
    """What the bond promises: `coupon_rate` in annual percent (Decimal("7.50")), paid `coupon_frequency`
    times a year on `face_value`, from `issue_date` to `maturity_date`, accruing by `day_count`."""

    coupon_rate: Decimal
    coupon_frequency: int
    issue_date: date
    maturity_date: date
    face_value: Decimal
    day_count: DayCount

    def __post_init__(self) -> None:
        rate = require_decimal(self.coupon_rate, "coupon_rate")
        if not Decimal(0) <= rate <= MAX_COUPON_RATE:
            raise BondMathError("coupon_rate", f"must be between 0 and {MAX_COUPON_RATE} (annual percent)")
        frequency = self.coupon_frequency
        if isinstance(frequency, bool) or frequency not in COUPON_FREQUENCIES:
            raise BondMathError("coupon_frequency", f"must be one of {COUPON_FREQUENCIES} payments a year")
        issue = require_date(self.issue_date, "issue_date")
        maturity = require_date(self.maturity_date, "maturity_date")
        if maturity <= issue:
            raise BondMathError("maturity_date", "must be after the issue date")
        if maturity > add_months(issue, 12 * MAX_TENOR_YEARS):
            raise BondMathError("maturity_date", f"must be within {MAX_TENOR_YEARS} years of the issue date")
        face = require_decimal(self.face_value, "face_value")
        if face <= 0:
            raise BondMathError("face_value", "must be positive")
        if not isinstance(self.day_count, DayCount):
            try:
                object.__setattr__(self, "day_count", DayCount(self.day_count))
            except ValueError as exc:
                raise BondMathError("day_count", f"must be one of {[d.value for d in DayCount]}") from exc

    @property
    def period_months(self) -> int:
        return 12 // self.coupon_frequency


@dataclass(frozen=True, slots=True)
class Coupon:
    """One accrual period: `amount` (for the bond's face value) is `face x rate x year_fraction`."""

    accrual_start: date
    accrual_end: date
    payment_date: date
    reference_start: date  # the notional regular period around an irregular (stub) period;
    reference_end: date  # the accrual period itself when it is regular
    year_fraction: Decimal
    amount: Decimal

    @property
    def is_regular(self) -> bool:
        return (self.reference_start, self.reference_end) == (self.accrual_start, self.accrual_end)


@dataclass(frozen=True, slots=True)
class BondSchedule:
    coupons: tuple[Coupon, ...]
    redemption_date: date  # unadjusted: the maturity date
    redemption_payment_date: date  # the previous business day when maturity is not one
    redemption_amount: Decimal

    @property
    def interest_end_date(self) -> date:
        """The day interest stops accruing (the last accrual end): settlement must come before it."""
        return self.coupons[-1].accrual_end


def _last_accrual_end(terms: BondTerms, start: date, redemption_payment: date) -> date:
    """Maturity, or under SEBI's rule the (earlier) redemption payment date when maturity is a holiday."""
    if terms.day_count is DayCount.ACT_ACT_SEBI:
        return max(start, min(redemption_payment, terms.maturity_date))
    return terms.maturity_date


def schedule_dates(terms: BondTerms) -> tuple[date, ...]:
    """Unadjusted schedule: the issue date, every regular coupon date before maturity, the maturity."""
    dates = [terms.issue_date]
    k = 1
    while (next_date := add_months(terms.issue_date, k * terms.period_months)) < terms.maturity_date:
        dates.append(next_date)
        k += 1
    dates.append(terms.maturity_date)
    return tuple(dates)


def _stub_reference_period(terms: BondTerms, start: date, *, single: bool) -> tuple[date, date]:
    """The notional regular period of the short last period: one coupon period from its start, or, when it
    is the bond's only period, the coupon period ending at maturity (QuantLib's `FixedRateLeg` choices)."""
    if single:
        return add_months(terms.maturity_date, -terms.period_months), terms.maturity_date
    return start, add_months(start, terms.period_months)


@lru_cache(maxsize=512)
def build_schedule(terms: BondTerms, calendar: BusinessCalendar) -> BondSchedule:
    """The coupons and redemption of `terms`, with payment dates adjusted on `calendar` (memoized)."""
    dates = schedule_dates(terms)
    on_grid = add_months(terms.issue_date, (len(dates) - 1) * terms.period_months) == terms.maturity_date
    face_times_rate = MATH_CONTEXT.divide(
        MATH_CONTEXT.multiply(terms.face_value, terms.coupon_rate), _HUNDRED
    )
    redemption_payment = calendar.preceding(terms.maturity_date)
    coupons = []
    for start, scheduled_end in pairwise(dates):
        reference_start, reference_end = start, scheduled_end
        last = scheduled_end == terms.maturity_date
        if last and not on_grid:
            reference_start, reference_end = _stub_reference_period(terms, start, single=len(dates) == 2)
        end = _last_accrual_end(terms, start, redemption_payment) if last else scheduled_end
        fraction = year_fraction(terms.day_count, start, end, terms.issue_date)
        payment = redemption_payment if last else calendar.following(end)
        coupons.append(
            Coupon(
                accrual_start=start,
                accrual_end=end,
                payment_date=payment,
                reference_start=reference_start,
                reference_end=reference_end,
                year_fraction=fraction,
                amount=MATH_CONTEXT.multiply(face_times_rate, fraction),
            )
        )
    return BondSchedule(
        coupons=tuple(coupons),
        redemption_date=terms.maturity_date,
        redemption_payment_date=redemption_payment,
        redemption_amount=terms.face_value,
    )
