"""The coupon job: a follower of the clock (like the settlement deadline timer) that runs every corporate
action that is due, in payment order, and catches up every date it missed while the server was down.

Per tick, with `today` the business date in India:
1. a newly listed ISIN has its issue minted to the issuer's wallet on the chain (`TokenMovement.Minted`);
2. every coupon and redemption whose record date is within `lead_days` is scheduled (`CouponScheduled`,
   `RedemptionScheduled`: the aggregate id is derived from ISIN, kind and date, so twice is once);
3. after its record date, the holders of record are taken from the log (settled trades up to the end of
   the record date) and checked against the chain's balances at that moment (`HoldersRecorded`); a
   mismatch records nothing and is reported (`last_error`) until an operator resolves it;
4. on the payment date every holder is paid (`Payouts`); a final redemption then burns every wallet's
   units on the chain (`TokenMovement.Burned`) and the action is `Completed`.
Every step is idempotent, so a crash anywhere is repaired by the next tick.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from bondflow.adapters.chain_port import ChainUnavailable
from bondflow.adapters.chain_sandbox import SandboxChain
from bondflow.domain.bonds import BusinessCalendar
from bondflow.domain.bonds.amortising import PartialRedemption
from bondflow.domain.corporate_actions import COUPON, CorporateAction, corporate_action_id
from bondflow.domain.entitlement import Entitlement, entitlements, holders_of_record
from bondflow.domain.ids import derived_id
from bondflow.domain.instruments import Instrument
from bondflow.domain.market_calendar import MarketCalendar, calendar_id
from bondflow.domain.settlement import investor_wallet
from bondflow.domain.tds import financial_year
from bondflow.domain.tokens import BURN, MINT, issuer_wallet, listing_mint_key
from bondflow.runtime.clock import IST, Clock, business_date
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Positioned
from bondflow.workers.coupon_log_facts import LogFacts
from bondflow.workers.ports import CorporateActionHandler

log = logging.getLogger(__name__)
ZERO = Decimal(0)


class HoldersMismatch(RuntimeError):
    """The log's holders of record disagree with the chain's balances on the record date."""


@dataclass(frozen=True, slots=True)
class Due:
    entitlement: Entitlement
    issuer: str
    rating_bucket: str


class CouponJob:
    name = "coupon_job"
    topics: frozenset[str] = frozenset()

    def __init__(
        self,
        store: EventStore,
        clock: Clock,
        chain: SandboxChain,
        commands: CorporateActionHandler,
        *,
        issue_units: Decimal,
        lead_days: int = 30,
    ) -> None:
        self.store = store
        self.clock = clock
        self.chain = chain
        self.commands = commands
        self.issue_units = issue_units
        self.lead_days = lead_days
        self.facts = LogFacts(store)
        self.completed: set[Any] = set()
        self.scheduled: set[Any] = set()
        self.last_error: str | None = None
        self._schedules: dict[str, tuple[int, int, tuple[Entitlement, ...], str, str]] = {}

    # -- the follower protocol (no position in the log: the timer runner ticks it) ---------------------

    def setup(self) -> None:
        self.chain.setup()

    def position(self) -> int:
        return self.store.head_position()

    def process(self, events: Sequence[Positioned], upto: int) -> None:
        """Nothing to follow (topics is empty)."""

    def tick(self, conn: Any = None) -> int:
        """Advance every due corporate action; returns how many actions were looked at."""
        self.facts.refresh()
        today = business_date(self.clock)
        problems = []
        try:
            self._mint_listings()
        except ChainUnavailable as exc:  # the bridge is down: the next tick mints what is left
            problems.append(f"mint: {exc}")
        due = sorted(
            self._due(today), key=lambda d: (d.entitlement.payment_date, d.entitlement.kind != COUPON)
        )
        for item in due:
            try:
                self._advance(item, today)
            except (HoldersMismatch, ChainUnavailable) as exc:  # reported; the next tick tries again
                problems.append(f"{item.entitlement.isin} {item.entitlement.scheduled_on}: {exc}")
        self.last_error = "; ".join(problems) or None
        return len(due)

    # -- steps -----------------------------------------------------------------------------------------

    def _mint_listings(self) -> None:
        for isin, issuer in sorted(self.facts.issuer_of.items()):
            key = listing_mint_key(isin)
            if key in self.facts.minted_keys:
                continue
            status = self.chain.mint(isin, issuer_wallet(issuer), self.issue_units, key)
            self.commands.record_movement(
                MINT,
                isin=isin,
                wallet=issuer_wallet(issuer),
                qty=self.issue_units,
                tx_hash=status.tx_hash,
                key=key,
                reason="listing",
            )
            self.facts.minted_keys.add(key)

    def _due(self, today: date) -> list[Due]:
        horizon = today + timedelta(days=self.lead_days)
        found = []
        for isin in self.facts.issuer_of:
            all_actions, issuer, bucket = self._entitlements(isin)
            listed_on = self.facts.listed_on[isin]
            for e in all_actions:
                if e.record_date > horizon:
                    break
                if e.record_date < listed_on:
                    continue
                if corporate_action_id(isin, e.kind, e.scheduled_on) not in self.completed:
                    found.append(Due(e, issuer, bucket))
        return found

    def _entitlements(self, isin: str) -> tuple[tuple[Entitlement, ...], str, str]:
        versions = (self.facts.calendar_version, self.facts.instrument_versions[isin])
        cached = self._schedules.get(isin)
        if cached is None or cached[:2] != versions:
            instrument: Instrument = self.store.repository.get(derived_id("instrument", isin))
            steps: tuple[PartialRedemption, ...] = tuple(getattr(instrument, "redemption_schedule", ()))
            actions = entitlements(
                isin, instrument.terms, self._calendar(), instrument.record_date_days, steps
            )
            cached = (*versions, actions, instrument.issuer, instrument.rating_bucket)
            self._schedules[isin] = cached
        return cached[2], cached[3], cached[4]

    def _calendar(self) -> BusinessCalendar:
        try:
            calendar: MarketCalendar = self.store.repository.get(calendar_id())
        except AggregateNotFoundError:
            return BusinessCalendar()
        return calendar.business_calendar()

    def _advance(self, item: Due, today: date) -> None:
        e = item.entitlement
        action_id = corporate_action_id(e.isin, e.kind, e.scheduled_on)
        if action_id in self.scheduled and today <= e.record_date and today < e.payment_date:
            return  # scheduled already, and nothing to do before the record date has passed
        action = self.commands.open(e, issuer=item.issuer, rating_bucket=item.rating_bucket)
        self.scheduled.add(action_id)
        if action.holders is None and (today > e.record_date or today >= e.payment_date):
            holders = holders_of_record(self.facts.movements.get(e.isin, []), e.record_date)
            self._check_against_chain(e, holders)
            action = self.commands.record_holders(action, holders)
        if action.holders is None or today < e.payment_date:
            return
        action = self.commands.pay_all(action, self._issuer_coupons)
        if action.is_final_redemption:
            self._burn_everything(action)
        self.commands.complete(action)
        self.completed.add(action.id)

    def _check_against_chain(self, e: Entitlement, holders: dict[str, Decimal]) -> None:
        end_of_record_date = datetime.combine(e.record_date + timedelta(days=1), time(), IST)
        chain = {
            wallet: units
            for wallet, units in self.chain.balances_as_of(e.isin, end_of_record_date).items()
            if wallet.startswith("investor:")
        }
        expected = {investor_wallet(h): u for h, u in holders.items()}
        if chain != expected:
            differing = sorted(set(chain.items()) ^ set(expected.items()))
            raise HoldersMismatch(
                f"{e.isin} {e.kind} {e.scheduled_on}: chain and log differ on {differing[:5]}"
            )

    def _burn_everything(self, action: CorporateAction) -> None:
        """A final redemption retires every unit of the ISIN, whoever holds it (investors, dealers, issuer);
        each final burn is then recorded, also one whose record a crash interrupted."""
        prefix = f"burn:{action.isin}:{action.scheduled_on.isoformat()}:"
        for wallet, units in sorted(self.chain.wallet_balances(action.isin).items()):
            if units > 0:
                self.chain.burn(action.isin, wallet, units, prefix + wallet)
        for wallet, units, tx_hash, key in self.chain.final_burns(action.isin, prefix):
            self.commands.record_movement(
                BURN,
                isin=action.isin,
                wallet=wallet,
                qty=units,
                tx_hash=tx_hash,
                key=key,
                reason="redemption",
            )

    def _issuer_coupons(self, issuer: str, fy: int) -> list[tuple[str, date]]:
        found = []
        for isin, of in self.facts.issuer_of.items():
            if of == issuer:
                actions, _, _ = self._entitlements(isin)
                found += [
                    (isin, e.scheduled_on)
                    for e in actions
                    if e.kind == COUPON and financial_year(e.payment_date) == fy
                ]
        return found
