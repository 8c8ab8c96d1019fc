"""Price → yield → price and yield → price → yield round-trip exactly, for every day count (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bondflow.domain.bonds import BondMathError, BondTerms, BusinessCalendar, DayCount, analyse
from bondflow.domain.bonds.dates import add_months
from bondflow.domain.bonds.schedule import build_schedule
from tools.bench.bond_analytics import analytics_calls_per_second

NO_HOLIDAYS = BusinessCalendar()
_PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def bonds_with_settlement(draw: st.DrawFn) -> tuple[BondTerms, date]:
    issue = draw(st.dates(date(1990, 1, 1), date(2060, 12, 31)))
    maturity = add_months(issue, draw(st.integers(1, 40 * 12))) + timedelta(days=draw(st.integers(0, 200)))
    terms = BondTerms(
        coupon_rate=Decimal(draw(st.integers(0, 2500))) / 100,
        coupon_frequency=draw(st.sampled_from([1, 2, 4, 12])),
        issue_date=issue,
        maturity_date=maturity,
        face_value=Decimal(draw(st.sampled_from([100, 1000, 100_000, 1_000_000]))),
        day_count=draw(st.sampled_from(list(DayCount))),
    )
    # a settlement is priced only before the redemption is paid, and a maturity on a weekend moves that
    # payment to a business day (DOMAIN.md): the last settlement day is the day before the payment date
    last = build_schedule(terms, NO_HOLIDAYS).interest_end_date - timedelta(days=1)
    assume(last >= issue)
    return terms, issue + timedelta(days=draw(st.integers(0, (last - issue).days)))


@pytest.mark.slow
@_PROPERTY
@given(case=bonds_with_settlement(), clean=st.integers(1, 3_000_000).map(lambda n: Decimal(n) / 10_000))
def test_a_clean_price_round_trips_through_its_yield_to_within_1e_8(
    case: tuple[BondTerms, date], clean: Decimal
) -> None:
    terms, settlement = case
    try:
        solved = analyse(terms, NO_HOLIDAYS, settlement, clean_price=clean)
    except BondMathError as refused:  # only prices implying yields outside (−100%, 1,000,000%] are refused
        assert refused.field == "clean_price"
        assume(False)
        return

    again = analyse(terms, NO_HOLIDAYS, settlement, ytm=solved.ytm)

    assert abs(again.clean_price - clean) <= Decimal("1e-8")
    assert abs(again.dirty_price - solved.dirty_price) <= Decimal("1e-8")


@pytest.mark.slow
@_PROPERTY
@given(case=bonds_with_settlement(), ytm=st.integers(-900, 5000).map(lambda bp: Decimal(bp) / 10_000))
def test_a_yield_round_trips_through_its_price_to_within_1e_10(
    case: tuple[BondTerms, date], ytm: Decimal
) -> None:
    terms, settlement = case
    priced = analyse(terms, NO_HOLIDAYS, settlement, ytm=ytm)
    try:
        solved = analyse(terms, NO_HOLIDAYS, settlement, clean_price=priced.clean_price)
    except BondMathError as refused:  # the day count leaves no time (30E/360, 30 → 31 March): the price
        assert refused.field == "settlement_date"  # does not depend on the yield, which is undefined
        assume(False)
        return

    assert abs(solved.ytm - ytm) <= Decimal("1e-10")
    assert abs(solved.clean_price - priced.clean_price) <= Decimal("1e-8")


def test_the_benchmark_reports_a_positive_rate_of_analytics_calls() -> None:
    assert analytics_calls_per_second(0.05) > 0
