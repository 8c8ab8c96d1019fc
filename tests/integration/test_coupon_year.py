"""A year of corporate actions on the injected clock: a quarterly amortising SEBI bond, a monthly bond of
the same issuer and a G-sec, holders buying and selling across record dates, a holiday on a coupon date
and the server down for seven weeks. Each coupon goes to the holder of record, TDS follows each rule
(threshold crossed mid-year, 15G, no PAN, NRI, G-sec), every payment balances and reaches escrow, the
redemptions pay principal and burn every token, and a fresh job over the same log records nothing new."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bondflow.domain.bonds import BusinessCalendar, round_money
from bondflow.domain.corporate_actions import CorporateAction
from bondflow.domain.entitlement import entitlements
from bondflow.domain.scales import PER_UNIT_PLACES, half_up
from bondflow.domain.tax_declarations import TaxDeclaration, declaration_id
from bondflow.domain.tds import financial_year
from bondflow.domain.tokens import TokenMovement
from bondflow.runtime.clock import ManualClock, business_date
from bondflow.runtime.effect_follower import topic_of
from bondflow.wiring.container import Container
from bondflow.workers.coupon_job import CouponJob
from tests.support.corporate_actions import CTX, investor, list_bond, settle_trade, valid_isin

D = Decimal
GSEC = "IN0020240019"
THRESHOLD = D(10000)


def events_of(container: Container, *classes: Any) -> list[Any]:
    topics = [topic_of(c) for c in classes]
    found = container.store.recorder.select_notifications(start=1, limit=100_000, topics=topics)
    return [container.store.mapper.to_domain_event(n) for n in found]


def units_of_record(trades: list[tuple[str, str, D, date]], holder: str, isin: str, record_date: date) -> D:
    return sum((q for h, i, q, d in trades if h == holder and i == isin and d <= record_date), D(0))


def test_a_year_of_coupons_and_redemptions(container: Container, clock: ManualClock) -> None:
    container.stop_followers()  # trades are settled here as the saga would leave them; the job is ticked
    job = container.corporate_actions.job
    quarterly = list_bond(
        container,
        isin=valid_isin("INE777A0701"),
        coupon_rate="9",
        coupon_frequency=4,
        issue_date="2026-10-05",
        maturity_date="2027-10-05",
        day_count="ACT/ACT-SEBI",
        redemption_schedule=[{"on": "2027-04-05", "principal_per_unit": "400"}],
    )
    monthly = list_bond(
        container,
        isin=valid_isin("INE777A0702"),
        coupon_rate="12",
        coupon_frequency=12,
        issue_date="2026-11-10",
        maturity_date="2029-11-10",
        day_count="ACT/365F",
    )
    container.instruments.add_holiday(date(2027, 1, 5), "test holiday on a coupon date", CTX)
    alice, bob, dave, erin, frank = (investor(container) for _ in range(5))
    dave = investor(container, residency="AE")
    carol = "carol-token-only"  # no account: no PAN on record
    container.store.save(
        TaxDeclaration(
            id=declaration_id(bob, 2026),
            user_id=bob,
            form="15G",
            financial_year=2026,
            filed_at=datetime(2026, 11, 25, tzinfo=UTC),
            actor_id=bob,
            request_id="t",
        )
    )
    plan: dict[date, list[tuple[str, str, str, D]]] = defaultdict(list)
    start = business_date(clock)
    plan[start] += [
        (alice, quarterly, "BUY", D(10)),
        (alice, monthly, "BUY", D(300)),
        (bob, monthly, "BUY", D(300)),
        (carol, monthly, "BUY", D(300)),
        (dave, quarterly, "BUY", D(5)),
        (erin, GSEC, "BUY", D(50)),
    ]
    plan[date(2027, 1, 26)] += [(frank, monthly, "BUY", D(100))]  # on a record date: a holder of record
    plan[date(2027, 2, 1)] += [(alice, quarterly, "SELL", D(4)), (erin, quarterly, "BUY", D(4))]
    plan[date(2027, 2, 24)] += [(frank, monthly, "SELL", D(100))]  # the day after a record date
    down = (date(2027, 5, 1), date(2027, 6, 20))  # the server is down: the job catches up afterwards
    trades: list[tuple[str, str, D, date]] = []
    day = start
    while day <= date(2027, 11, 1):
        for holder, isin, side, qty in plan.get(day, []):
            settle_trade(container, clock, holder, isin, side, qty)
            trades.append((holder, isin, qty if side == "BUY" else -qty, business_date(clock)))
        if not down[0] <= day <= down[1]:
            job.tick()
            assert job.last_error is None, job.last_error
        clock.advance(timedelta(days=1))
        day = business_date(clock)

    paid = events_of(container, CorporateAction.CouponPaid)
    scheduled = {
        e.originator_id: e
        for e in events_of(container, CorporateAction.CouponScheduled, CorporateAction.RedemptionScheduled)
    }
    assert len({(e.originator_id, e.holder) for e in paid}) == len(paid)  # each holder paid once per coupon

    # each coupon went to the holder of record, for the units held at the end of the record date
    for e in paid:
        action = scheduled[e.originator_id]
        assert e.units == units_of_record(trades, e.holder, action.isin, action.record_date) > 0
        assert e.gross == round_money(e.units * action.amount_per_unit)
        assert e.gross == e.net + e.tds and e.tds >= 0  # a balanced entry: gross = net + TDS
        assert (e.debit_account, e.credit_account, e.tds_account) == (
            "issuer:acme-finance" if action.isin != GSEC else e.debit_account,
            f"investor:{e.holder}:available",
            "tax:tds",
        )
    assert {e.holder for e in paid if scheduled[e.originator_id].isin == monthly} >= {frank}
    frank_months = sorted(scheduled[e.originator_id].payment_date for e in paid if e.holder == frank)
    assert frank_months == [date(2027, 2, 10), date(2027, 3, 10)]

    # TDS: each rule as DOMAIN.md states it, with the year's interest from the issuer in payment order
    year_total: dict[tuple[str, int], D] = defaultdict(D)
    rules: dict[str, set[str]] = defaultdict(set)
    for e in sorted(paid, key=lambda e: (scheduled[e.originator_id].payment_date, e.originator_id)):
        action = scheduled[e.originator_id]
        fy = financial_year(action.payment_date)
        expected = expected_rule(
            e.holder, action.isin, fy, year_total[(e.holder, fy)] + e.gross, bob, carol, dave
        )
        if action.isin != GSEC:
            year_total[(e.holder, fy)] += e.gross
        assert e.tds_rule == expected, (e.holder, action.isin, action.payment_date)
        rate = {"s193": D(10), "s206aa_no_pan": D(20), "s195_non_resident": D("20.8")}.get(expected, D(0))
        assert e.tds == round_money(e.gross * rate / 100)
        rules[e.holder].add(e.tds_rule)
    assert rules[alice] == {"below_threshold", "s193"}  # the threshold is crossed mid-year
    assert rules[carol] == {"below_threshold", "s206aa_no_pan"}
    assert {"declaration_15g_15h", "s193"} <= rules[bob]
    assert rules[dave] == {"s195_non_resident"}
    assert rules[erin] >= {"exempt_gsec"}

    # a holiday moved the payment, not the amount
    first_q = next(
        a for a in scheduled.values() if a.isin == quarterly and a.scheduled_on == date(2027, 1, 5)
    )
    plain = entitlements(quarterly, container.instruments.load(quarterly).terms, BusinessCalendar(), 15)[0]
    assert (first_q.payment_date, first_q.record_date) == (date(2027, 1, 6), date(2026, 12, 22))
    assert first_q.amount_per_unit == half_up(plain.amount_per_unit, PER_UNIT_PLACES)  # stored at its scale

    # redemptions: 400 per unit in April, the remaining 600 at maturity; every token burned
    redeemed = events_of(container, CorporateAction.Redeemed)
    by_date = defaultdict(dict)
    for e in redeemed:
        by_date[scheduled[e.originator_id].scheduled_on][e.holder] = e.amount
    assert by_date[date(2027, 4, 5)] == {alice: D(2400), dave: D(2000), erin: D(1600)}
    assert by_date[date(2027, 10, 5)] == {alice: D(3600), dave: D(3000), erin: D(2400)}
    chain = container.settlement.chain
    assert chain.supply(quarterly) == 0 and chain.wallet_balances(quarterly) == {}
    minted = sum(e.qty for e in events_of(container, TokenMovement.Minted) if e.isin == quarterly)
    burned = sum(e.qty for e in events_of(container, TokenMovement.Burned) if e.isin == quarterly)
    assert minted == D(10_000_000) and burned == minted + D(10_000_000)  # issuer mint + the dealer's supply

    # cash: each holder's escrow holds exactly the coupons net of TDS and the principal repaid
    for holder in (alice, bob, carol, dave, erin, frank):
        expected_cash = sum((e.net for e in paid if e.holder == holder), D(0)) + sum(
            (e.amount for e in redeemed if e.holder == holder), D(0)
        )
        assert container.payments.escrow.load(holder).available == expected_cash > 0

    # a replay: a fresh job over the same log reproduces every coupon and records nothing new
    head = container.store.head_position()
    fresh = CouponJob(
        container.store, clock, chain, job.commands, issue_units=job.issue_units, lead_days=job.lead_days
    )
    fresh.tick()
    assert container.store.head_position() == head


def expected_rule(holder: str, isin: str, fy: int, year_total: D, bob: str, carol: str, dave: str) -> str:
    if isin == GSEC:
        return "exempt_gsec"
    if holder == dave:
        return "s195_non_resident"
    if holder == bob and fy == 2026:
        return "declaration_15g_15h"
    if year_total <= THRESHOLD:
        return "below_threshold"
    return "s206aa_no_pan" if holder == carol else "s193"
