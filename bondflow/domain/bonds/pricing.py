"""Accrued interest, price from yield, yield from price and risk, per 100 face, exactly in `Decimal`.

DOMAIN.md's formula: `dirty = Σ CF_k / (1 + y/f)^e_k` with `e_k = k − 1 + w` for a regular schedule, where
`w` is the fraction of the current coupon period still to run. How this module reads it:

- days are counted by the bond's day count (30E/360 days, else actual days); "days to the next coupon" is
  `days(start, next) − days(start, settlement)` (QuantLib's reading; plain `days(settlement, next)` can
  differ by a day or two under 30E/360 at month ends);
- the remaining cash flows are the coupons whose accrual ends after the settlement date (a coupon falling on
  the settlement date belongs to the seller) and the redemption with the last one; they are discounted on
  the unadjusted schedule (a holiday moves a payment, not the period count);
- each regular period counts exactly one period; a short final stub counts `days(stub) / days(reference
  period)` periods (ISMA; 30E/360 reference periods are `360/f` days), and when the settlement falls in
  the stub `w` is measured against the reference period too. So `e_k` is the number of coupon periods from
  settlement to the k-th flow.

Risk, with `u = 1 + y/f` and `P = Σ CF_k u^−e_k`: Macaulay duration `Σ (e_k/f) CF_k u^−e_k / P` years,
modified `Macaulay / u`, convexity `(1/P) d²P/dy² = Σ e_k(e_k+1)/f² CF_k u^−(e_k+2) / P` years², and PV01
`P(y − 0.0001) − P(y)`: the dirty price gained per 100 face when the yield falls one basis point (a
re-pricing, not the duration approximation).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from bondflow.domain.bonds.arithmetic import MATH_CONTEXT
from bondflow.domain.bonds.daycount import DayCount, day_count_days, year_fraction
from bondflow.domain.bonds.errors import BondMathError
from bondflow.domain.bonds.schedule import BondSchedule, BondTerms, Coupon, require_date, require_decimal

MIN_YIELD = Decimal(-1)  # −100%: yields at or below it are refused
MAX_YIELD = Decimal(10_000)  # 1,000,000% a year: a price implying more is refused rather than chased
ONE_BASIS_POINT = Decimal("0.0001")
_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_TWO = Decimal(2)
_SOLVER_TOLERANCE = Decimal("1e-28")  # relative, on the per-period discount factor
_SOLVER_MAX_ITERATIONS = 400  # bisection alone needs ~100 to reach the tolerance from any bracket
_MAX_UPPER_BRACKET = Decimal("1e10000")


@dataclass(frozen=True, slots=True)
class CashFlow:
    """A remaining payment per 100 face, `periods` coupon periods after settlement (`step` after the last)."""

    accrual_end: date
    amount: Decimal
    step: Decimal
    periods: Decimal


@dataclass(frozen=True, slots=True)
class SettlementPosition:
    """Where a settlement date falls in the schedule, and what remains to be paid after it (per 100 face)."""

    settlement_date: date
    frequency: int
    previous_coupon_date: date  # start of the current accrual period (the issue date in the first one)
    next_coupon_date: date  # end of the current accrual period, unadjusted
    accrued_days: int  # by the day count (30E/360 days for 30E/360 bonds)
    accrued_interest: Decimal
    cash_flows: tuple[CashFlow, ...]


@dataclass(frozen=True, slots=True)
class RiskMeasures:
    macaulay_duration: Decimal
    modified_duration: Decimal
    convexity: Decimal
    pv01: Decimal


def settlement_position(
    terms: BondTerms, schedule: BondSchedule, settlement_date: date
) -> SettlementPosition:
    """Accrued interest and the remaining cash flows of `terms` for settlement on `settlement_date`."""
    settlement = require_date(settlement_date, "settlement_date")
    if settlement < terms.issue_date:
        raise BondMathError("settlement_date", f"is before the issue date {terms.issue_date.isoformat()}")
    if settlement >= schedule.interest_end_date:
        raise BondMathError("settlement_date", _too_late(terms, schedule))
    coupons = schedule.coupons
    current_index = bisect_right([c.accrual_end for c in coupons], settlement)
    current = coupons[current_index]
    convention = terms.day_count
    with localcontext(MATH_CONTEXT):
        accrued_days = day_count_days(convention, current.accrual_start, settlement)
        accrued = terms.coupon_rate * year_fraction(
            convention, current.accrual_start, settlement, terms.issue_date
        )
        flows: list[CashFlow] = []
        periods = Decimal(0)
        for index in range(current_index, len(coupons)):
            coupon = coupons[index]
            start = settlement if index == current_index else coupon.accrual_start
            to_run = day_count_days(convention, coupon.accrual_start, coupon.accrual_end) - day_count_days(
                convention, coupon.accrual_start, start
            )
            reference = _period_days(terms, coupon)
            step = _ONE if to_run == reference else Decimal(to_run) / Decimal(reference)
            periods += step
            amount = terms.coupon_rate * coupon.year_fraction
            if index == len(coupons) - 1:
                amount += _HUNDRED
            flows.append(CashFlow(coupon.accrual_end, amount, step, periods))
    return SettlementPosition(
        settlement_date=settlement,
        frequency=terms.coupon_frequency,
        previous_coupon_date=current.accrual_start,
        next_coupon_date=current.accrual_end,
        accrued_days=accrued_days,
        accrued_interest=accrued,
        cash_flows=tuple(flows),
    )


def _too_late(terms: BondTerms, schedule: BondSchedule) -> str:
    if schedule.interest_end_date < terms.maturity_date:  # SEBI: interest ends at the redemption payment
        return f"must be before the redemption payment date {schedule.interest_end_date.isoformat()}"
    return f"must be before the maturity date {terms.maturity_date.isoformat()}"


def _period_days(terms: BondTerms, coupon: Coupon) -> int:
    """Days in one coupon period, to measure the part of `coupon` still to run against.

    A regular period is measured against itself (it counts exactly one period). A stub is measured against
    its reference period: `360/f` days under 30E/360 (the convention's nominal period), else the actual days
    of the reference period.
    """
    if coupon.is_regular:
        return day_count_days(terms.day_count, coupon.accrual_start, coupon.accrual_end)
    if terms.day_count is DayCount.THIRTY_E_360:
        return 360 // terms.coupon_frequency
    return (coupon.reference_end - coupon.reference_start).days


def _moments(flows: tuple[CashFlow, ...], v: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """`Σ CF v^e`, `Σ e CF v^e` and `Σ e(e+1) CF v^e` at per-period discount factor `v = 1/(1 + y/f)`."""
    price = first = second = Decimal(0)
    discount = _ONE
    with localcontext(MATH_CONTEXT):
        for flow in flows:
            discount *= v if flow.step == _ONE else v**flow.step
            term = flow.amount * discount
            price += term
            first += flow.periods * term
            second += flow.periods * (flow.periods + _ONE) * term
    return price, first, second


def validate_yield(ytm: object) -> Decimal:
    """`ytm` as a decimal fraction, refused at or below −100% and above `MAX_YIELD`."""
    value = require_decimal(ytm, "ytm")
    if value <= MIN_YIELD:
        raise BondMathError("ytm", "must be above -1 (-100%); yields are decimal fractions, 0.0725 = 7.25%")
    if value > MAX_YIELD:
        raise BondMathError("ytm", f"must not exceed {MAX_YIELD} ({MAX_YIELD * 100}%)")
    return value


def _discount_factor(ytm: Decimal, frequency: int) -> Decimal:
    with localcontext(MATH_CONTEXT):
        return _ONE / (_ONE + ytm / frequency)


def dirty_price_from_yield(position: SettlementPosition, ytm: Decimal) -> Decimal:
    """Dirty price per 100 face at yield `ytm` (a decimal fraction compounded at the coupon frequency)."""
    value = validate_yield(ytm)
    return _moments(position.cash_flows, _discount_factor(value, position.frequency))[0]


def yield_from_dirty_price(
    position: SettlementPosition, dirty_price: Decimal, field: str = "clean_price"
) -> Decimal:
    """The yield (compounded at the coupon frequency) at which the remaining flows are worth `dirty_price`.

    The price is strictly increasing in `v = 1/(1 + y/f)`, so the root is unique: it is bracketed between
    `MAX_YIELD` and −100% (for annual coupons, where −100% is `v = ∞`, by growing the upper bracket), then
    found by Newton steps that fall back to bisection whenever a step leaves the bracket or stalls. Either it
    converges to a relative 1e-28 in `v` or raises `BondMathError(field)` saying why.
    """
    flows = position.cash_flows
    if all(flow.periods == 0 for flow in flows):
        raise BondMathError(
            "settlement_date", "no time is left to maturity by the day count: yield undefined"
        )
    frequency = position.frequency
    with localcontext(MATH_CONTEXT):
        if dirty_price <= 0:
            raise BondMathError(field, "must give a positive dirty price")
        lo = _discount_factor(MAX_YIELD, frequency)
        if _moments(flows, lo)[0] > dirty_price:
            raise BondMathError(field, f"is so low it implies a yield above {MAX_YIELD * 100}%")
        hi = _upper_bracket(flows, frequency, dirty_price, field)
        v = min(max(_discount_factor(Decimal("0.07"), frequency), lo), hi)
        previous_gap: Decimal | None = None
        for _ in range(_SOLVER_MAX_ITERATIONS):
            price, first, _second = _moments(flows, v)
            gap = price - dirty_price
            if gap == 0:
                break
            if gap < 0:
                lo = v
            else:
                hi = v
            newton = v - gap * v / first
            if abs(newton - v) <= _SOLVER_TOLERANCE * v:  # the Newton step is negligible: converged
                v = newton
                break
            stalled = previous_gap is not None and abs(gap) > abs(previous_gap) / _TWO
            v = newton if lo < newton < hi and not stalled else (lo + hi) / _TWO
            previous_gap = gap
            if hi - lo <= _SOLVER_TOLERANCE * v:
                break
        else:  # pragma: no cover - bisection alone reaches the tolerance well within the iteration budget
            raise BondMathError(field, "the yield solver did not converge")
        solved = frequency * (_ONE / v - _ONE)
        if solved <= MIN_YIELD:  # the root exists but is −100% to 34 significant digits
            raise BondMathError(field, "is so high it implies a yield indistinguishable from -100%")
        return solved


def _upper_bracket(flows: tuple[CashFlow, ...], frequency: int, dirty_price: Decimal, field: str) -> Decimal:
    """A discount factor whose price exceeds `dirty_price` with the yield still above −100%, or refuse."""
    too_high = BondMathError(field, "is so high it implies a yield at or below -100%")
    if frequency > 1:  # y = −100% is the finite v = f/(f − 1): the bracket stops just short of it
        hi = Decimal(frequency) / (frequency - 1)
        if _moments(flows, hi)[0] <= dirty_price:
            raise too_high
        return hi
    hi = _TWO
    while _moments(flows, hi)[0] <= dirty_price:
        if hi > _MAX_UPPER_BRACKET:
            raise too_high
        hi *= hi
    return hi


def ytm_annual_effective(ytm: Decimal, frequency: int) -> Decimal:
    """`(1 + y/f)^f − 1`: the annualised yield Indian platforms display for corporate bonds."""
    with localcontext(MATH_CONTEXT):
        return (_ONE + ytm / frequency) ** frequency - _ONE


def risk_measures(position: SettlementPosition, ytm: Decimal, field: str = "ytm") -> RiskMeasures:
    """Macaulay and modified duration (years), convexity (years²) and PV01 (per 100 face) at `ytm`.

    `field` names the input the yield came from, for the one refusal: an annual-coupon yield within one
    basis point of −100%, where the PV01 re-pricing would need a yield at or below −100%."""
    value = validate_yield(ytm)
    frequency = position.frequency
    with localcontext(MATH_CONTEXT):
        v = _discount_factor(value, frequency)
        price, first, second = _moments(position.cash_flows, v)
        macaulay = first / (frequency * price)
        shifted = value - ONE_BASIS_POINT
        if _ONE + shifted / frequency <= 0:
            raise BondMathError(
                field, "implies a yield too close to -100% for a one basis point fall to be priced"
            )
        bumped = _moments(position.cash_flows, _ONE / (_ONE + shifted / frequency))[0]
        return RiskMeasures(
            macaulay_duration=macaulay,
            modified_duration=macaulay * v,
            convexity=second * v * v / (frequency * frequency * price),
            pv01=bumped - price,
        )
