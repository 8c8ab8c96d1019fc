"""Amortising bonds: the redemption schedule and its cash flows, golden and against QuantLib's
`AmortizingFixedRateBond` (a test-only oracle: one notional per period, redemptions at period ends)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bondflow.domain.bonds import BondMathError, BondTerms, BusinessCalendar, DayCount, schedule_dates
from bondflow.domain.bonds.amortising import (
    COUPON,
    REDEMPTION,
    PartialRedemption,
    cash_flows,
    face_outstanding,
)

ql = pytest.importorskip("QuantLib")

D = Decimal
_FREQUENCIES = {1: ql.Annual, 2: ql.Semiannual, 4: ql.Quarterly, 12: ql.Monthly}
_DAY_COUNTERS = {
    DayCount.THIRTY_E_360: ql.Thirty360(ql.Thirty360.European),
    DayCount.ACT_365F: ql.Actual365Fixed(),
}


def quarterly(day_count: DayCount = DayCount.THIRTY_E_360) -> BondTerms:
    return BondTerms(D("7.5"), 4, date(2026, 1, 15), date(2028, 1, 15), D(1000), day_count)


def test_golden_quarterly_amortising_bond() -> None:
    steps = (PartialRedemption(date(2026, 7, 15), D(200)), PartialRedemption(date(2027, 4, 15), D(300)))
    flows = cash_flows(quarterly(), BusinessCalendar(), steps)
    coupons = [f for f in flows if f.kind == COUPON]
    redemptions = [(f.scheduled_on, f.amount_per_unit) for f in flows if f.kind == REDEMPTION]
    assert [c.amount_per_unit for c in coupons[:3]] == [D("18.75"), D("18.75"), D("15.00")]
    assert coupons[-1].amount_per_unit == D("9.375")  # 500 outstanding × 7.5% / 4
    assert redemptions == [
        (date(2026, 7, 15), D(200)),
        (date(2027, 4, 15), D(300)),
        (date(2028, 1, 15), D(500)),
    ]
    assert face_outstanding(quarterly(), steps, date(2027, 4, 14)) == D(800)
    assert face_outstanding(quarterly(), steps, date(2027, 4, 15)) == D(500)


def test_a_holiday_moves_the_payment_not_the_amount() -> None:
    steps = (PartialRedemption(date(2026, 7, 15), D(200)),)
    plain = cash_flows(quarterly(), BusinessCalendar(), steps)
    holiday = cash_flows(quarterly(), BusinessCalendar(frozenset({date(2026, 7, 15)})), steps)
    moved = [(a, b) for a, b in zip(plain, holiday, strict=True) if a.payment_date != b.payment_date]
    assert {b.payment_date for _, b in moved} == {date(2026, 7, 16)}
    assert all(a.amount_per_unit == b.amount_per_unit for a, b in zip(plain, holiday, strict=True))


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ((PartialRedemption(date(2026, 7, 16), D(1)),), "coupon date"),
        ((PartialRedemption(date(2026, 7, 15), D(1000)),), "outstanding at maturity"),
        ((PartialRedemption(date(2026, 7, 15), D("0.001")),), "paise"),
        (
            (PartialRedemption(date(2026, 10, 15), D(1)), PartialRedemption(date(2026, 7, 15), D(1))),
            "increasing",
        ),
    ],
)
def test_bad_schedules_are_refused(steps: tuple[PartialRedemption, ...], message: str) -> None:
    with pytest.raises(BondMathError, match=message):
        cash_flows(quarterly(), BusinessCalendar(), steps)


def ql_date(day: date) -> ql.Date:
    return ql.Date(day.day, day.month, day.year)


def quantlib_flows(terms: BondTerms, steps: tuple[PartialRedemption, ...]) -> list[tuple[date, float, str]]:
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
    by_date = {s.on: float(s.principal_per_unit) for s in steps}
    notionals, outstanding = [], float(terms.face_value)
    for end in schedule_dates(terms)[1:]:
        notionals.append(outstanding)
        outstanding -= by_date.get(end, 0.0)
    bond = ql.AmortizingFixedRateBond(
        0,
        notionals,
        schedule,
        [float(terms.coupon_rate) / 100],
        _DAY_COUNTERS[terms.day_count],
        ql.Unadjusted,
        ql_date(terms.issue_date),
    )
    found = []
    for cf in bond.cashflows():
        kind = COUPON if ql.as_coupon(cf) is not None else REDEMPTION
        day = date(cf.date().year(), cf.date().month(), cf.date().dayOfMonth())
        found.append((day, cf.amount(), kind))
    return found


@st.composite
def amortising_bonds(draw: st.DrawFn) -> tuple[BondTerms, tuple[PartialRedemption, ...]]:
    frequency = draw(st.sampled_from([1, 2, 4, 12]))
    issue = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
    years = draw(st.integers(1, 6))
    terms = BondTerms(
        D(draw(st.integers(0, 1500))) / 100,
        frequency,
        issue,
        date(issue.year + years, issue.month, min(issue.day, 28)),
        D(draw(st.sampled_from([100, 1000, 10000, 100000]))),
        draw(st.sampled_from(list(_DAY_COUNTERS))),
    )
    grid = list(schedule_dates(terms)[1:-1])
    chosen = sorted(draw(st.sets(st.sampled_from(grid), max_size=4))) if grid else []
    shares = [draw(st.integers(1, 20)) for _ in chosen]  # percent of face each
    steps = tuple(
        PartialRedemption(on, terms.face_value * s / 100) for on, s in zip(chosen, shares, strict=True)
    )
    return terms, steps


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(amortising_bonds())
def test_cash_flows_agree_with_quantlib(bond: tuple[BondTerms, tuple[PartialRedemption, ...]]) -> None:
    """Unadjusted dates and amounts (payment-date adjustment is DOMAIN.md's own, tested above)."""
    terms, steps = bond
    ours = [(f.scheduled_on, f.amount_per_unit, f.kind) for f in cash_flows(terms, BusinessCalendar(), steps)]
    theirs = quantlib_flows(terms, steps)
    theirs_nonzero = [t for t in theirs if not (t[2] == COUPON and t[1] == 0.0 and terms.coupon_rate == 0)]
    ours_nonzero = [o for o in ours if not (o[2] == COUPON and o[1] == 0 and terms.coupon_rate == 0)]
    assert len(ours_nonzero) == len(theirs_nonzero)
    for (our_day, our_amount, our_kind), (day, amount, kind) in zip(
        ours_nonzero, theirs_nonzero, strict=True
    ):
        assert (our_day, our_kind) == (day, kind)
        assert float(our_amount) == pytest.approx(amount, rel=1e-12, abs=1e-9)
    principal = sum(
        f.amount_per_unit for f in cash_flows(terms, BusinessCalendar(), steps) if f.kind == REDEMPTION
    )
    assert principal == terms.face_value


def test_a_sebi_maturity_on_a_holiday_is_redeemed_the_business_day_before_under_its_own_date() -> None:
    terms = BondTerms(
        D("7.5"), 4, date(2026, 1, 17), date(2027, 1, 17), D(1000), DayCount.ACT_ACT_SEBI
    )  # a Sunday
    flows = cash_flows(terms, BusinessCalendar())
    last_coupon, redemption = flows[-2], flows[-1]
    assert (redemption.kind, redemption.scheduled_on, redemption.payment_date) == (
        REDEMPTION,
        date(2027, 1, 17),
        date(2027, 1, 15),
    )
    assert last_coupon.scheduled_on == date(2027, 1, 17) and redemption.amount_per_unit == D(1000)
