"""Coupons and a redemption under chaos: three copies of the coupon job tick at once, the chain bridge
times out at random (mints and burns), and job copies are killed in the middle of paying (between deciding
a batch and saving it) and replaced by fresh ones that know nothing. Afterwards every holder of record is
paid exactly once per action, escrow holds exactly the net amounts, every action is completed and every
token of the redeemed bond is burned, once."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from bondflow.domain.corporate_actions import CorporateAction
from bondflow.domain.escrow import EscrowAccount
from bondflow.domain.tokens import TokenMovement
from bondflow.runtime.clock import ManualClock, business_date
from bondflow.runtime.effect_follower import topic_of
from bondflow.wiring.container import Container
from bondflow.workers.coupon_job import CouponJob
from commands.corporate_actions.job_commands import CorporateActionCommands
from commands.corporate_actions.payouts import Payouts
from tests.support.corporate_actions import investor, list_bond, settle_trade, valid_isin

D = Decimal


class Killed(RuntimeError):
    """The worker died between deciding a batch of payments and saving it."""


class DyingPayouts(Payouts):
    """Payouts whose worker is killed now and then half-way through a batch (seeded, so reproducible)."""

    def __init__(self, base: Payouts, rng: random.Random) -> None:
        super().__init__(base.store, base.escrow, base.profiles, base.config)
        self.rng = rng

    def _pay(self, action: Any, holder: Any, earlier: D) -> EscrowAccount:
        account = super()._pay(action, holder, earlier)
        if self.rng.random() < 0.25:
            raise Killed(f"killed while paying {holder.holder}")
        return account


def events_of(container: Container, *classes: Any) -> list[Any]:
    topics = [topic_of(c) for c in classes]
    found = container.store.recorder.select_notifications(start=1, limit=100_000, topics=topics)
    return [container.store.mapper.to_domain_event(n) for n in found]


def test_each_holder_is_paid_exactly_once_under_faults_and_killed_workers(
    container: Container, clock: ManualClock
) -> None:
    container.stop_followers()
    isin = list_bond(
        container,
        isin=valid_isin("INE780A0701"),
        coupon_rate="9.5",
        coupon_frequency=12,
        issue_date="2026-11-20",
        maturity_date="2027-05-20",
        day_count="ACT/365F",
    )
    holders = [investor(container) for _ in range(5)] + [investor(container, residency="AE"), "token-only-1"]
    for n, holder in enumerate(holders):
        settle_trade(container, clock, holder, isin, "BUY", D(10 + 7 * n))
    base = container.corporate_actions.job
    rng = random.Random(20261125)

    def fresh_job() -> CouponJob:
        payouts = DyingPayouts(base.commands.payouts, rng)
        commands = CorporateActionCommands(container.store, payouts)
        return CouponJob(container.store, clock, base.chain, commands, issue_units=base.issue_units)

    jobs = [fresh_job() for _ in range(3)]
    container.faults["chain"].set("timeout_rate", 0.4)
    kills = 0

    def tick(index: int) -> None:
        nonlocal kills
        try:
            jobs[index].tick()
        except Killed:
            kills += 1
            jobs[index] = fresh_job()  # a restarted worker: no memory, it reads the log again

    with ThreadPoolExecutor(max_workers=3) as pool:
        while business_date(clock) <= date(2027, 6, 10):
            list(pool.map(tick, range(3)))
            clock.advance(timedelta(days=1))
    container.faults["chain"].clear()
    settle = CouponJob(container.store, clock, base.chain, base.commands, issue_units=base.issue_units)
    for _ in range(3):
        settle.tick()
    assert settle.last_error is None, settle.last_error
    assert kills > 0  # the chaos really happened

    scheduled = events_of(container, CorporateAction.CouponScheduled, CorporateAction.RedemptionScheduled)
    ours = {e.originator_id for e in scheduled if e.isin == isin}
    assert len(ours) == 7  # six monthly coupons and the redemption
    paid = [
        e
        for e in events_of(container, CorporateAction.CouponPaid, CorporateAction.Redeemed)
        if e.originator_id in ours
    ]
    per_holder = Counter((e.originator_id, e.holder) for e in paid)
    assert set(per_holder.values()) == {1}  # never twice
    assert set(per_holder) == {(a, h) for a in ours for h in holders}  # and never missed
    completed = {e.originator_id for e in events_of(container, CorporateAction.Completed)}
    assert ours <= completed
    for holder in holders:
        owed = sum((getattr(e, "net", None) or e.amount for e in paid if e.holder == holder), D(0))
        assert container.payments.escrow.load(holder).available == owed
    chain = container.settlement.chain
    assert chain.supply(isin) == 0 and chain.wallet_balances(isin) == {}
    burns = [e for e in events_of(container, TokenMovement.Burned) if e.isin == isin]
    assert len({e.idempotency_key for e in burns}) == len(burns)
    minted = [e for e in events_of(container, TokenMovement.Minted) if e.isin == isin]
    assert len(minted) == 1
    dealer_supply = D(10_000_000)
    assert sum(e.qty for e in burns) == minted[0].qty + dealer_supply
