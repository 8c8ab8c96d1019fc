"""Corporate actions in the ledger: a coupon posts issuer → clearing (net) and issuer → tax:tds (TDS), a
redemption issuer → clearing; with the escrow credit that goes with each, clearing nets to zero, the
investor holds the net, tax:tds the TDS and the issuer owes the gross."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from bondflow.domain import ledger as L
from bondflow.domain.bonds import BondTerms, BusinessCalendar, DayCount
from bondflow.domain.corporate_actions import CorporateAction, issuer_account
from bondflow.domain.entitlement import entitlements, gross_amount
from bondflow.domain.escrow import EscrowAccount
from bondflow.domain.ledger import balanced_lines
from bondflow.domain.ledger_postings import draft_for
from bondflow.domain.tds import TaxProfile, TdsConfig, assess

WHO: dict[str, Any] = {"actor_id": "system:coupon-job", "request_id": "r"}
TERMS = BondTerms(Decimal("9.1"), 2, date(2026, 1, 15), date(2027, 1, 15), Decimal(1000), DayCount.ACT_365F)


class NoFacts:
    def owner_of_escrow(self, account_id: Any) -> str:
        return "u-1"

    def payment_amount(self, *args: Any) -> Decimal:  # pragma: no cover - not asked for these events
        raise AssertionError

    def settlement(self, settlement_id: Any) -> Any:  # pragma: no cover
        raise AssertionError


def test_a_coupon_and_a_redemption_balance_and_leave_clearing_at_zero() -> None:
    coupon_terms, *_, redemption_terms = entitlements("INE123A07043", TERMS, BusinessCalendar(), 15)
    balances: dict[str, Decimal] = defaultdict(Decimal)
    account = EscrowAccount.open("u-1", **WHO)
    for terms in (coupon_terms, redemption_terms):
        action = CorporateAction.schedule(terms, issuer="Acme Finance Ltd.", rating_bucket="AA", **WHO)
        action.record_holders({"u-1": Decimal(40)}, **WHO)
        gross = gross_amount(Decimal(40), action.amount_per_unit)
        if terms.kind == "coupon":
            decision = assess(
                TdsConfig(),
                TaxProfile("IN", "retail", has_pan=False),
                rating_bucket="AA",
                gross=gross,
                paid_on=terms.payment_date,
                earlier_interest_in_fy=Decimal(9000),
            )
            action.pay_coupon("u-1", decision, **WHO)
            account.credit("coupon-ref", decision.net, "coupon net of TDS", **WHO)
        else:
            action.redeem("u-1", gross, **WHO)
            account.credit("redemption-ref", gross, "redemption principal", **WHO)
        for event in [*action.collect_events()]:
            draft = draft_for(event, NoFacts())
            if draft is None:
                continue
            for line in balanced_lines(draft.lines):
                balances[line.account] += line.debit - line.credit
    for event in account.collect_events():
        draft = draft_for(event, NoFacts())
        if draft is not None:
            for line in balanced_lines(draft.lines):
                balances[line.account] += line.debit - line.credit
    issuer = issuer_account("Acme Finance Ltd.")
    assert issuer == "issuer:acme-finance-ltd" and L.is_account(issuer)
    assert balances[L.CLEARING] == 0 and sum(balances.values()) == 0
    coupon_gross = gross_amount(Decimal(40), coupon_terms.amount_per_unit.quantize(Decimal("1e-20")))
    tds = (coupon_gross * Decimal("0.20")).quantize(Decimal("0.01"))  # no PAN, over the threshold
    assert balances[L.TDS] == -tds
    assert balances[issuer] == coupon_gross + Decimal(40_000)  # the issuer owes gross coupon and principal
    assert -balances[L.investor_available("u-1")] == account.available == coupon_gross - tds + Decimal(40_000)
    assert L.normal_balance(issuer, balances[issuer], Decimal(0)) > 0
