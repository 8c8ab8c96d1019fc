"""Pre-trade checks as a pure function, in DOMAIN.md's order: each rule refuses with its own code."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from bondflow.domain.policy import InvestorAttributes
from bondflow.domain.portfolio import Position
from bondflow.domain.pretrade import (
    Buckets,
    InstrumentFacts,
    Limits,
    MarketFacts,
    OrderFacts,
    check_order,
    consideration,
    duration_bucket,
)
from bondflow.errors import BondFlowError

VERIFIED = InvestorAttributes(
    residency="IN", investor_category="retail", kyc_status="verified", kyc_tier="full"
)
BOND = InstrumentFacts(
    isin="INE123A07043",
    issuer="Demo Housing",
    rating_bucket="AA",
    face_value=Decimal(1000),
    maturity_date=date(2031, 3, 15),
    suspended=False,
    record_date_days=15,
    lockup_until=None,
    eligible_investor_categories=frozenset({"retail", "hni"}),
    allowed_residencies=frozenset({"IN"}),
    reference_clean_price=Decimal("100"),
    price_band_pct=Decimal("5"),
    next_coupon_payment=date(2027, 3, 15),
    accrued_per_100=Decimal("1.5"),
    duration_bucket="3-7y",
)
TODAY = MarketFacts(date(2026, 11, 25), True, date(2026, 11, 26))
BUY = OrderFacts("BUY", Decimal(10), Decimal("101"))


def decide(
    order: OrderFacts = BUY,
    investor: InvestorAttributes = VERIFIED,
    bond: InstrumentFacts = BOND,
    market: MarketFacts = TODAY,
    limits: Limits | None = None,
    exposure: list[Position] | None = None,
    cash: Decimal = Decimal(1_000_000),
    units: Decimal = Decimal(0),
) -> object:
    return check_order(
        order, investor, bond, market, limits or Limits(), exposure or [], cash, units, Decimal(5)
    )


def code_of(**kwargs: object) -> str:
    with pytest.raises(BondFlowError) as caught:
        decide(**kwargs)  # type: ignore[arg-type]
    return caught.value.code


def test_a_buy_reserves_its_maximum_consideration_with_accrued_and_fees() -> None:
    approval = decide()
    # 10 × 1000 × (101 + 1.5) / 100 = 10,250.00; fees 5 bp = 5.125 → 10,255.13 (rounded up to the paisa)
    assert approval.reserve_cash == Decimal("10255.13")  # type: ignore[attr-defined]
    assert approval.price_cap == Decimal("101")  # type: ignore[attr-defined]


def test_a_market_buy_is_capped_at_the_band_edge_and_a_market_sell_at_the_floor() -> None:
    assert decide(order=OrderFacts("BUY", Decimal(1), None)).price_cap == Decimal("105")  # type: ignore[attr-defined]
    sell = decide(order=OrderFacts("SELL", Decimal(1), None), units=Decimal(5))
    assert (sell.price_cap, sell.reserve_units) == (Decimal("95"), Decimal(1))  # type: ignore[attr-defined]


def test_each_rule_refuses_with_its_code() -> None:
    unverified = replace(VERIFIED, kyc_status="pending")
    assert code_of(investor=unverified) == "BF-KYC-002"
    assert code_of(investor=replace(VERIFIED, residency="US")) == "BF-KYC-002"
    assert code_of(investor=replace(VERIFIED, investor_category="institutional")) == "BF-KYC-002"
    assert code_of(bond=replace(BOND, suspended=True)) == "BF-ORD-005"
    assert code_of(market=MarketFacts(date(2031, 3, 15), True, date(2031, 3, 17))) == "BF-ORD-005"
    assert code_of(market=MarketFacts(date(2026, 11, 24), False, date(2026, 11, 25))) == "BF-ORD-005"
    assert (
        code_of(market=MarketFacts(date(2027, 3, 1), True, date(2027, 3, 2))) == "BF-ORD-005"
    )  # record-date window
    assert code_of(market=replace(TODAY, allowlist=frozenset({"IN0020240019"}))) == "BF-ORD-005"
    lockup = replace(BOND, lockup_until=date(2027, 1, 1))
    assert (
        code_of(order=OrderFacts("SELL", Decimal(1), Decimal(100)), bond=lockup, units=Decimal(5))
        == "BF-ORD-005"
    )
    assert code_of(order=OrderFacts("BUY", Decimal(1), Decimal("105.0001"))) == "BF-ORD-006"
    assert code_of(limits=Limits(per_issuer=Decimal(5000))) == "BF-ORD-004"
    assert code_of(cash=Decimal("10255.12")) == "BF-ORD-007"
    assert (
        code_of(order=OrderFacts("SELL", Decimal(10), Decimal(100)), units=Decimal("9.999999"))
        == "BF-ORD-007"
    )


def test_checks_run_in_order_so_the_first_failing_rule_answers() -> None:
    everything_wrong = {
        "investor": replace(VERIFIED, kyc_status="rejected"),
        "bond": replace(BOND, suspended=True),
        "cash": Decimal(0),
    }
    assert code_of(**everything_wrong) == "BF-KYC-002"
    assert (
        code_of(bond=replace(BOND, suspended=True), order=OrderFacts("BUY", Decimal(1), Decimal(200)))
        == "BF-ORD-005"
    )
    assert code_of(order=OrderFacts("BUY", Decimal(1), Decimal(200)), cash=Decimal(0)) == "BF-ORD-006"


def test_limits_count_holdings_and_pending_buys_and_name_the_limit_and_headroom() -> None:
    held = Position("INE000", "Demo Housing", "AA", "3-7y", Decimal(1000), held=Decimal(4000))
    with pytest.raises(BondFlowError) as caught:
        decide(exposure=[held], order=OrderFacts("BUY", Decimal(1001), Decimal(100)), cash=Decimal(10**9))
    assert caught.value.code == "BF-ORD-004"
    assert caught.value.details["limit"] == "per_issuer"
    assert caught.value.details["headroom"] == "1000000"


def test_duration_buckets_and_consideration_rounding() -> None:
    assert [duration_bucket(Decimal(x)) for x in ("0.5", "3", "6.99", "7", "15")] == [
        "0-3y",
        "3-7y",
        "3-7y",
        "7y+",
        "7y+",
    ]
    # money rounds half-up to the paisa like every ledger entry (it used to round up): 0.001 → 0.00,
    # 0.005 → 0.01, 1000.004 → 1000.00; gross and fee are each rounded once
    zero = Decimal(0)
    assert consideration(Decimal("0.000001"), Decimal(1000), Decimal(100), zero, zero) == Decimal("0.00")
    assert consideration(Decimal("0.000005"), Decimal(1000), Decimal(100), zero, zero) == Decimal("0.01")
    assert consideration(Decimal(1), Decimal(1000), Decimal("100.0004"), zero, zero) == Decimal("1000.00")
    # 1,000.00 gross + 0.50 fee (5 bp)
    assert consideration(Decimal(1), Decimal(1000), Decimal(100), zero, Decimal(5)) == Decimal("1000.50")


def test_an_order_worth_less_than_a_paisa_is_an_invalid_order() -> None:
    assert (
        code_of(
            order=OrderFacts("BUY", Decimal("0.000001"), Decimal("100")),
            bond=replace(BOND, face_value=Decimal(1)),
        )
        == "BF-ORD-003"
    )


def test_a_buy_reserves_at_the_most_accrued_its_settlement_can_reach() -> None:
    # settled tomorrow the bond accrues 1.5 per 100, the day after 1.52: the reservation takes the larger
    approval = decide(bond=replace(BOND, max_accrued_per_100=Decimal("1.52")))
    # 10 × 1000 × (101 + 1.52) / 100 = 10,252.00; fees 5 bp = 5.126 → 5.13
    assert approval.reserve_cash == Decimal("10257.13")  # type: ignore[attr-defined]


def test_limits_count_positions_in_their_current_rating_and_duration_buckets() -> None:
    # bought as AA / 3-7y; since then downgraded to A and, time passing, its remaining duration is under 3y
    held = Position("INE000", "Another issuer", "AA", "3-7y", Decimal(1000), held=Decimal(1500))
    now = {"INE000": Buckets(rating="A", duration="0-3y")}
    a_bond = replace(BOND, rating_bucket="A", duration_bucket="0-3y")
    tight = Limits(per_rating_bucket={"A": Decimal(1_505_000)}, per_duration_bucket={"0-3y": Decimal(10**9)})
    with pytest.raises(BondFlowError) as caught:
        check_order(BUY, VERIFIED, a_bond, TODAY, tight, [held], Decimal(10**9), Decimal(0), Decimal(5), now)
    assert (caught.value.code, caught.value.details["limit"]) == ("BF-ORD-004", "per_rating_bucket:A")
    assert caught.value.details["current"] == "1500000"
    short = Limits(per_duration_bucket={"0-3y": Decimal(1_505_000)})
    with pytest.raises(BondFlowError) as caught:
        check_order(
            BUY,
            VERIFIED,
            replace(BOND, duration_bucket="0-3y"),
            TODAY,
            short,
            [held],
            Decimal(10**9),
            Decimal(0),
            Decimal(5),
            now,
        )
    assert caught.value.details["limit"] == "per_duration_bucket:0-3y"
    # and the buckets it was bought in no longer count it
    check_order(
        BUY,
        VERIFIED,
        BOND,
        TODAY,
        Limits(per_rating_bucket={"AA": Decimal(10_000)}),
        [held],
        Decimal(10**9),
        Decimal(0),
        Decimal(5),
        now,
    )


def test_the_record_date_window_is_judged_on_the_settlement_date_not_the_trade_date() -> None:
    # a coupon paid Monday 15 Mar 2027 has its record date 15 days before: Sunday 28 Feb. A Friday 26 Feb
    # trade settles Monday 1 Mar, inside [28 Feb, 15 Mar): the buyer would pay accrued for a coupon the
    # seller keeps. The trade date itself is before the window.
    friday = MarketFacts(date(2027, 2, 26), True, date(2027, 3, 1))
    with pytest.raises(BondFlowError) as caught:
        decide(market=friday)
    assert caught.value.code == "BF-ORD-005"
    assert caught.value.details["rule"] == "record_date"
    assert caught.value.details["record_date"] == "2027-02-28"
    assert caught.value.details["settlement_date"] == "2027-03-01"
    # Thursday 25 Feb settles Friday 26 Feb, before the record date: tradable
    decide(market=MarketFacts(date(2027, 2, 25), True, date(2027, 2, 26)))


def test_an_order_settling_on_or_after_the_redemption_payment_date_is_refused() -> None:
    # maturity Sunday 16 Mar 2031 is redeemed Friday 14 Mar; a Thursday 13 Mar trade settles on that Friday
    redeemed = replace(
        BOND,
        maturity_date=date(2031, 3, 16),
        redemption_payment_date=date(2031, 3, 14),
        next_coupon_payment=None,
    )
    with pytest.raises(BondFlowError) as caught:
        decide(bond=redeemed, market=MarketFacts(date(2031, 3, 13), True, date(2031, 3, 14)))
    assert (caught.value.code, caught.value.details["rule"]) == ("BF-ORD-005", "matured")
    assert caught.value.details["redemption_payment_date"] == "2031-03-14"
    # and a settlement after maturity, whatever the redemption date says
    late = replace(BOND, next_coupon_payment=None)
    assert code_of(bond=late, market=MarketFacts(date(2031, 3, 14), True, date(2031, 3, 17))) == "BF-ORD-005"
    decide(bond=redeemed, market=MarketFacts(date(2031, 3, 12), True, date(2031, 3, 13)))
