"""Differential tests: 30E/360 and ACT/365F bonds against QuantLib 1.44 (a test-only oracle).

How QuantLib is set up so that it computes DOMAIN.md's quantities:
- `FixedRateBond(0, 100, Schedule(..., NullCalendar, Unadjusted, DateGeneration.Forward, endOfMonth=False),
  [rate], coupon day counter)`, priced with `BondFunctions` / `Bond.dirtyPrice` at an explicit settlement
  date, yields `Compounded` at the coupon frequency;
- the *yield* day counter is the bond's own for 30E/360, and `ActualActual(ISMA)` for ACT/365F. QuantLib
  discounts each period by the yield day counter's year fraction, so with `Actual365Fixed` a 182-day
  half-year would count 0.997 periods instead of DOMAIN.md's one; ISMA, fed the coupons' reference periods,
  counts exactly `days to run / days in the (reference) period`, which is DOMAIN.md's `k − 1 + w`.
- 30E/360 yields and risk are compared for issue days 1–28 only: when the issue day is 29–31, periods that
  touch February are not 180/90/30/360 days long in 30E/360 (31 Aug → 28 Feb is 178 days), and QuantLib
  counts them as that many 360ths of a year while DOMAIN.md counts every regular period as one period (see
  `test_bonds_golden.py` for the pinned behaviour). Schedules, coupons and accrued interest are compared
  for every issue day.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bondflow.domain.bonds import (
    BondTerms,
    BusinessCalendar,
    DayCount,
    analyse,
    build_schedule,
    round_price,
    schedule_dates,
)
from bondflow.domain.bonds.dates import add_months

ql = pytest.importorskip("QuantLib")

PRICE_TOLERANCE = 1e-8
YIELD_TOLERANCE = 1e-10
DURATION_TOLERANCE = 1e-8  # years
CONVEXITY_RELATIVE_TOLERANCE = 1e-10

_FREQUENCIES = {1: ql.Annual, 2: ql.Semiannual, 4: ql.Quarterly, 12: ql.Monthly}
_CALENDAR = BusinessCalendar()
_DIFFERENTIAL = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def ql_date(day: date) -> ql.Date:
    return ql.Date(day.day, day.month, day.year)


def quantlib_bond(terms: BondTerms) -> tuple[ql.FixedRateBond, ql.DayCounter]:
    """The QuantLib twin of `terms` (per 100 face) and the day counter its yield must be quoted with."""
    schedule = ql.Schedule(
        ql_date(terms.issue_date),
        ql_date(terms.maturity_date),
        ql.Period(_FREQUENCIES[terms.coupon_frequency]),
        ql.NullCalendar(),
        ql.Unadjusted,
        ql.Unadjusted,
        ql.DateGeneration.Forward,
        False,
    )
    if terms.day_count is DayCount.THIRTY_E_360:
        coupon_day_counter = ql.Thirty360(ql.Thirty360.European)
        yield_day_counter = coupon_day_counter
    else:
        coupon_day_counter = ql.Actual365Fixed()
        yield_day_counter = ql.ActualActual(ql.ActualActual.ISMA)
    bond = ql.FixedRateBond(0, 100.0, schedule, [float(terms.coupon_rate) / 100], coupon_day_counter)
    return bond, yield_day_counter


@st.composite
def bonds_with_settlement(draw: st.DrawFn, *, max_issue_day: int = 31) -> tuple[BondTerms, date]:
    """A 30E/360 or ACT/365F bond (regular, or with a short final stub) and a settlement date in its life."""
    day_count = draw(st.sampled_from([DayCount.THIRTY_E_360, DayCount.ACT_365F]))
    frequency = draw(st.sampled_from([1, 2, 4, 12]))
    first_of_month = draw(st.dates(date(1995, 1, 1), date(2045, 12, 1))).replace(day=1)
    issue = first_of_month + timedelta(days=draw(st.integers(0, max_issue_day - 1)))
    if issue.month != first_of_month.month:  # 29–31 in a shorter month: the month's last day
        issue = add_months(first_of_month, 1) - timedelta(days=1)
    months = draw(st.integers(1, 30 * 12))
    stub_days = draw(st.one_of(st.just(0), st.integers(1, 400)))
    maturity = add_months(issue, months) + timedelta(days=stub_days)
    terms = BondTerms(
        coupon_rate=Decimal(draw(st.integers(0, 2000))) / 100,
        coupon_frequency=frequency,
        issue_date=issue,
        maturity_date=maturity,
        face_value=Decimal(100),
        day_count=day_count,
    )
    if draw(st.booleans()):  # on a coupon date (or the issue date), where nothing accrues
        settlement = draw(st.sampled_from(schedule_dates(terms)[:-1]))
    else:
        # before the redemption is paid (a maturity on a weekend moves the payment to a business day)
        last = build_schedule(terms, _CALENDAR).interest_end_date - timedelta(days=1)
        settlement = issue + timedelta(days=draw(st.integers(0, max(0, (last - issue).days))))
    return terms, settlement


def yields() -> st.SearchStrategy[Decimal]:
    return st.integers(-300, 3000).map(lambda bp_hundredths: Decimal(bp_hundredths) / 10_000)


def set_evaluation_date(settlement: date) -> None:
    ql.Settings.instance().evaluationDate = ql_date(settlement)


@pytest.mark.slow
@_DIFFERENTIAL
@given(case=bonds_with_settlement())
def test_schedule_coupons_and_accrued_interest_match_quantlib(case: tuple[BondTerms, date]) -> None:
    terms, settlement = case
    set_evaluation_date(settlement)
    bond, _ = quantlib_bond(terms)
    ours = build_schedule(terms, _CALENDAR)
    theirs = [ql.as_fixed_rate_coupon(flow) for flow in bond.cashflows()][:-1]

    assert [c.accrual_end for c in ours.coupons] == [
        date(c.date().year(), c.date().month(), c.date().dayOfMonth()) for c in theirs
    ]
    for coupon, twin in zip(ours.coupons, theirs, strict=True):
        assert abs(float(coupon.amount) - twin.amount()) <= PRICE_TOLERANCE
    analytics = analyse(terms, _CALENDAR, settlement, ytm=Decimal("0.07"))
    assert analytics.accrued_days == ql.BondFunctions.accruedDays(bond, ql_date(settlement))
    accrued = ql.BondFunctions.accruedAmount(bond, ql_date(settlement))
    assert abs(float(analytics.accrued_interest) - accrued) <= PRICE_TOLERANCE


@pytest.mark.slow
@_DIFFERENTIAL
@given(case=bonds_with_settlement(max_issue_day=28), ytm=yields())
def test_prices_durations_convexity_and_pv01_from_a_yield_match_quantlib(
    case: tuple[BondTerms, date], ytm: Decimal
) -> None:
    terms, settlement = case
    set_evaluation_date(settlement)
    bond, day_counter = quantlib_bond(terms)
    at = ql_date(settlement)
    frequency = _FREQUENCIES[terms.coupon_frequency]
    y = float(ytm)

    analytics = analyse(terms, _CALENDAR, settlement, ytm=ytm)

    def dirty(rate: float) -> float:
        return bond.dirtyPrice(rate, day_counter, ql.Compounded, frequency, at)

    assert abs(float(analytics.dirty_price) - dirty(y)) <= PRICE_TOLERANCE
    clean = bond.cleanPrice(y, day_counter, ql.Compounded, frequency, at)
    assert abs(float(analytics.clean_price) - clean) <= PRICE_TOLERANCE
    macaulay = ql.BondFunctions.duration(
        bond, y, day_counter, ql.Compounded, frequency, ql.Duration.Macaulay, at
    )
    modified = ql.BondFunctions.duration(
        bond, y, day_counter, ql.Compounded, frequency, ql.Duration.Modified, at
    )
    assert abs(float(analytics.macaulay_duration) - macaulay) <= DURATION_TOLERANCE
    assert abs(float(analytics.modified_duration) - modified) <= DURATION_TOLERANCE
    convexity = ql.BondFunctions.convexity(bond, y, day_counter, ql.Compounded, frequency, at)
    assert abs(float(analytics.convexity) - convexity) <= CONVEXITY_RELATIVE_TOLERANCE * max(1.0, convexity)
    assert abs(float(analytics.pv01) - (dirty(y - 1e-4) - dirty(y))) <= PRICE_TOLERANCE


@pytest.mark.slow
@_DIFFERENTIAL
@given(case=bonds_with_settlement(max_issue_day=28), ytm=yields())
def test_yield_from_a_clean_price_matches_quantlib(case: tuple[BondTerms, date], ytm: Decimal) -> None:
    terms, settlement = case
    quoted = round_price(analyse(terms, _CALENDAR, settlement, ytm=ytm).clean_price)  # a 4-place quote
    set_evaluation_date(settlement)
    bond, day_counter = quantlib_bond(terms)

    analytics = analyse(terms, _CALENDAR, settlement, clean_price=quoted)

    theirs = ql.BondFunctions.bondYield(
        bond,
        ql.BondPrice(float(quoted), ql.BondPrice.Clean),
        day_counter,
        ql.Compounded,
        _FREQUENCIES[terms.coupon_frequency],
        ql_date(settlement),
        1e-15,
        1000,
        0.05,
    )
    assert abs(float(analytics.ytm) - theirs) <= YIELD_TOLERANCE
