"""Coupon entitlement (record date, holders of record, gross) and TDS rules: golden and property-based."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bondflow.domain.bonds import BondTerms, BusinessCalendar, DayCount
from bondflow.domain.entitlement import (
    Movement,
    entitlements,
    gross_amount,
    holders_of_record,
    record_date_for,
)
from bondflow.domain.tds import (
    TaxProfile,
    TdsConfig,
    TdsRule,
    assess,
    financial_year,
    financial_year_label,
    quarter_of,
)

D = Decimal
SEBI_QUARTERLY = BondTerms(D("7.5"), 4, date(2026, 1, 15), date(2028, 1, 15), D(1000), DayCount.ACT_ACT_SEBI)
RESIDENT = TaxProfile("IN", "retail", has_pan=True)
CONFIG = TdsConfig()


def test_golden_sebi_coupon_and_record_date() -> None:
    holiday = BusinessCalendar(frozenset({date(2026, 4, 15)}))  # a Wednesday
    first = entitlements("INE123A07043", SEBI_QUARTERLY, holiday, 15)[0]
    assert first.scheduled_on == date(2026, 4, 15)
    assert first.payment_date == date(2026, 4, 16)  # the holiday moves the payment …
    assert first.record_date == date(2026, 4, 1)  # … and the record date counts back from it
    plain = entitlements("INE123A07043", SEBI_QUARTERLY, BusinessCalendar(), 15)[0]
    assert plain.amount_per_unit == first.amount_per_unit  # … never the amount: 1000 × 7.5% × 90/365
    assert gross_amount(D(7), first.amount_per_unit) == D("129.45")
    assert gross_amount(D("0.5"), first.amount_per_unit) == D("9.25")  # 9.2465… half up


def test_record_date_counts_calendar_days_back_from_the_payment_date() -> None:
    assert record_date_for(date(2026, 3, 2), 15) == date(2026, 2, 15)
    assert record_date_for(date(2026, 3, 2), 0) == date(2026, 3, 2)


def test_the_last_entitlement_is_the_final_redemption() -> None:
    actions = entitlements("INE123A07043", SEBI_QUARTERLY, BusinessCalendar(), 15)
    assert [a.kind for a in actions[-2:]] == ["coupon", "redemption"]
    assert actions[-1].is_final_redemption and actions[-1].amount_per_unit == D(1000)
    assert len(actions) == 9


def test_holders_of_record_count_movements_settled_by_the_end_of_the_record_date() -> None:
    moves = [
        Movement("alice", D(10), date(2026, 3, 1)),
        Movement("bob", D(5), date(2026, 3, 1)),
        Movement("alice", D(-4), date(2026, 3, 31)),
        Movement("bob", D(-5), date(2026, 3, 20)),
        Movement("carol", D(3), date(2026, 4, 1)),  # bought after the record date: not a holder
    ]
    assert holders_of_record(moves, date(2026, 3, 31)) == {"alice": D(6)}
    assert holders_of_record(moves, date(2026, 4, 1)) == {"alice": D(6), "carol": D(3)}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c"]),
            st.integers(1, 10**6).map(lambda n: D(n) / 1000),
            st.dates(date(2026, 1, 1), date(2026, 12, 31)),
        ),
        max_size=30,
    ),
    st.dates(date(2026, 1, 1), date(2026, 12, 31)),
)
def test_holders_of_record_sum_to_the_units_bought_by_then(buys: list[tuple[str, D, date]], on: date) -> None:
    moves = [Movement(h, q, d) for h, q, d in buys]
    holders = holders_of_record(moves, on)
    assert sum(holders.values(), D(0)) == sum((m.units for m in moves if m.settled_on <= on), D(0))
    assert all(units > 0 for units in holders.values())


@given(
    st.integers(1, 10**9).map(lambda n: D(n) / 10**6),
    st.integers(1, 10**8).map(lambda n: D(n) / 10**6),
)
def test_gross_is_exact_to_half_a_paisa(units: D, per_unit: D) -> None:
    gross = gross_amount(units, per_unit)
    assert abs(gross - units * per_unit) <= D("0.005")
    assert gross == gross.quantize(D("0.01"))


def pay(
    profile: TaxProfile, gross: str, earlier: str = "0", bucket: str = "AAA", on: date = date(2026, 6, 30)
):
    return assess(
        CONFIG, profile, rating_bucket=bucket, gross=D(gross), paid_on=on, earlier_interest_in_fy=D(earlier)
    )


def test_threshold_is_crossed_mid_year() -> None:
    assert pay(RESIDENT, "4000").rule is TdsRule.BELOW_THRESHOLD
    assert pay(RESIDENT, "4000", earlier="6000").rule is TdsRule.BELOW_THRESHOLD  # exactly 10,000: not over
    crossing = pay(RESIDENT, "4000", earlier="6000.01")
    assert (crossing.rule, crossing.section, crossing.rate_pct, crossing.tds, crossing.net) == (
        TdsRule.RESIDENT,
        "193",
        D(10),
        D("400.00"),
        D("3600.00"),
    )


def test_before_fy_2025_26_the_threshold_was_5000() -> None:
    assert pay(RESIDENT, "6000", on=date(2025, 3, 31)).rule is TdsRule.RESIDENT
    assert pay(RESIDENT, "6000", on=date(2025, 4, 1)).rule is TdsRule.BELOW_THRESHOLD


def test_declaration_no_pan_non_resident_and_gsec() -> None:
    declared = TaxProfile("IN", "retail", has_pan=True, declarations=frozenset({2026}))
    assert pay(declared, "50000").rule is TdsRule.DECLARATION
    assert pay(declared, "50000", on=date(2027, 4, 1)).rule is TdsRule.RESIDENT  # another FY
    no_pan = pay(TaxProfile("IN", "retail", has_pan=False), "20000")
    assert (no_pan.rule, no_pan.section, no_pan.tds) == (TdsRule.NO_PAN, "206AA", D("4000.00"))
    nri = pay(TaxProfile("AE", "retail", has_pan=True), "100")  # no threshold for non-residents
    assert (nri.rule, nri.section, nri.rate_pct, nri.tds) == (
        TdsRule.NON_RESIDENT,
        "195",
        D("20.80"),
        D("20.80"),
    )
    gsec = pay(TaxProfile("AE", "retail", has_pan=False), "50000", bucket="SOV")
    assert (gsec.rule, gsec.tds, gsec.net) == (TdsRule.EXEMPT_GSEC, D(0), D(50000))
    institution = pay(TaxProfile("IN", "institutional", has_pan=True), "100")
    assert institution.rule is TdsRule.RESIDENT


def test_rates_are_configuration() -> None:
    config = TdsConfig(
        non_resident_base_rate=D(20), non_resident_surcharge_pct=D(10), non_resident_cess_pct=D(4)
    )
    assert config.non_resident_rate == D("22.880")
    decision = assess(
        TdsConfig(resident_rate=D("7.5")),
        RESIDENT,
        rating_bucket="AA",
        gross=D("20000"),
        paid_on=date(2026, 6, 1),
        earlier_interest_in_fy=D(0),
    )
    assert decision.tds == D("1500.00")


def test_financial_years_and_quarters() -> None:
    assert financial_year(date(2026, 3, 31)) == 2025 and financial_year(date(2026, 4, 1)) == 2026
    assert financial_year_label(2025) == "2025-26" and financial_year_label(2099) == "2099-00"
    assert [quarter_of(date(2026, m, 1)) for m in (4, 6, 7, 10, 12, 1, 3)] == [1, 1, 2, 3, 3, 4, 4]


@given(
    st.integers(1, 10**9).map(lambda n: D(n) / 100),
    st.integers(0, 10**7).map(lambda n: D(n) / 100),
    st.sampled_from(["IN", "US"]),
    st.booleans(),
    st.sampled_from(["AAA", "SOV"]),
)
def test_net_plus_tds_is_gross(gross: D, earlier: D, residency: str, has_pan: bool, bucket: str) -> None:
    decision = pay(TaxProfile(residency, "retail", has_pan), str(gross), str(earlier), bucket)
    assert decision.tds + decision.net == decision.gross == gross
    assert D(0) <= decision.tds <= gross
    assert decision.tds == decision.tds.quantize(D("0.01"))


@pytest.mark.parametrize("rule", list(TdsRule))
def test_every_rule_has_a_section(rule: TdsRule) -> None:
    from bondflow.domain.tds import SECTIONS

    assert SECTIONS[rule]
