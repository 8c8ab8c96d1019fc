"""The ledger's domain: entries balance once rounded half-up to paise, one entry per source event, every
mapped money movement posts a balanced entry, and reconciliation pairs bank and ledger lines."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from bondflow.domain import ledger as L
from bondflow.domain.escrow import EscrowAccount, PaymentMethod
from bondflow.domain.ledger import JournalEntry, Line, UnbalancedEntry, balanced_lines
from bondflow.domain.ledger_postings import POSTINGS, SettlementFacts, draft_for
from bondflow.domain.reconciliation import BankLine, LedgerLine, Reconciliation, match
from bondflow.domain.settlement import Settlement
from bondflow.domain.settlement_money import terms_of

WHO: dict[str, Any] = {"actor_id": "u-1", "request_id": "r"}
DAY = date(2026, 11, 25)


def test_an_entry_rounds_half_up_to_paise_once_and_must_balance() -> None:
    lines = balanced_lines(
        [L.dr("bank:escrow", Decimal("10.005")), L.cr("investor:a:available", Decimal("10.005"))]
    )
    assert [x.debit or x.credit for x in lines] == [Decimal("10.01"), Decimal("10.01")]
    with pytest.raises(UnbalancedEntry):
        balanced_lines([L.dr("bank:escrow", Decimal("10.00")), L.cr("investor:a:available", Decimal("9.99"))])
    with pytest.raises(UnbalancedEntry):
        balanced_lines([L.dr("bank:escrow", Decimal("1")), L.cr("nobody", Decimal("1"))])
    with pytest.raises(UnbalancedEntry):
        balanced_lines([Line("bank:escrow", Decimal("1"), Decimal("1"))])


def test_the_same_source_event_always_names_the_same_entry() -> None:
    source = uuid.uuid4()
    first = JournalEntry.post(
        kind="deposit",
        reference="REF",
        value_date=DAY,
        source_topic="t",
        source_id=source,
        source_version=3,
        lines=L.transfer(L.BANK_ESCROW, "investor:a:available", Decimal("5")),
    )
    again = JournalEntry.post(
        kind="deposit",
        reference="REF",
        value_date=DAY,
        source_topic="t",
        source_id=source,
        source_version=3,
        lines=L.transfer(L.BANK_ESCROW, "investor:a:available", Decimal("5")),
    )
    assert first.id == again.id == L.journal_entry_id(source, 3)


class Facts:
    def __init__(self, account: EscrowAccount, side: str = "BUY", *, dvp: bool = False) -> None:
        self.account = account
        self.side = side
        self.dvp = dvp

    def owner_of_escrow(self, account_id: UUID) -> str:
        assert account_id == self.account.id
        return str(self.account.user_id)

    def payment_amount(self, account_id: UUID, payment_id: str, before_version: int) -> Decimal:
        return Decimal(self.account.payments[payment_id].amount)

    def settlement(self, settlement_id: UUID) -> SettlementFacts:
        return SettlementFacts("trade-1", "u-1", self.side, "DLR1", Decimal("1005.25"), self.dvp)

    def is_dvp_trade(self, trade_id: str) -> bool:
        return self.dvp


def escrow_story() -> EscrowAccount:
    account = EscrowAccount.open("u-1", **WHO)
    account.initiate_deposit("pay-1", Decimal("5000"), PaymentMethod.NEFT, request_fingerprint="f", **WHO)
    account.confirm_payment("pay-1", "BANKREF1", Decimal("5000"), "evt-1", **WHO)
    account.reserve("order-1", Decimal("1200"), **WHO)
    account.debit("order-1", Decimal("1005.25"), "trade-1", **WHO)
    account.release("order-1", **WHO)
    account.credit("sale:trade-2", Decimal("99.99"), "sale proceeds", **WHO)
    account.request_withdrawal("wdr-1", Decimal("10"), request_fingerprint="f", **WHO)
    account.request_withdrawal("wdr-2", Decimal("20"), request_fingerprint="f", **WHO)
    account.confirm_payment("wdr-1", "BANKREF2", Decimal("10"), "evt-2", **WHO)
    account.fail_payment("wdr-2", "BANKREF3", Decimal("999"), "evt-3", "bank rejected", **WHO)
    return account


def test_every_escrow_money_event_posts_a_balanced_entry_and_the_investor_accounts_match_escrow() -> None:
    account = escrow_story()
    balances: dict[str, Decimal] = {}
    for event in account.collect_events():
        draft = draft_for(event, Facts(account))
        if draft is None:
            continue
        for line in balanced_lines(draft.lines):
            balances[line.account] = balances.get(line.account, Decimal(0)) + line.debit - line.credit
    assert sum(balances.values()) == 0
    assert -balances["investor:u-1:available"] == account.available == Decimal("4084.74")
    assert balances.get("investor:u-1:reserved", Decimal(0)) == -account.reserved == 0
    assert balances["bank:escrow"] == Decimal("4990.00")  # 5000 in, 10 paid out; the failed 20 returned
    assert balances["clearing"] == Decimal("99.99") - Decimal("1005.25")  # until the dealer legs post


def test_a_settlement_from_before_dvp_pays_the_dealer_out_of_clearing_and_collects_into_it() -> None:
    old = Settlement(  # started before holds: `Started` without gross, `PaymentConfirmed` without amount
        id=uuid.uuid4(),
        trade_id="trade-1",
        order_id="o",
        user_id="u-1",
        isin="INE123A07043",
        side="BUY",
        dealer="DLR1",
        qty=Decimal("10"),
        consideration=Decimal("1005.25"),
        gross=None,
        fee=None,
        stamp_duty=None,
        **WHO,
    )
    old._payment_confirmed(reference="SBXSET1", amount=None, debit_account=None, credit_account=None, **WHO)
    confirmed = old.collect_events()[-1]
    account = EscrowAccount.open("u-1", **WHO)
    for side, bank_side in (("BUY", "credit"), ("SELL", "debit")):
        draft = draft_for(confirmed, Facts(account, side))
        assert draft is not None and draft.reference == "SBXSET1"
        lines = balanced_lines(draft.lines)
        bank = next(x for x in lines if x.account == L.BANK_ESCROW)
        assert getattr(bank, bank_side) == Decimal("1005.25")
        dealer = [x for x in lines if x.account == "dealer:DLR1"]
        assert sum(x.debit - x.credit for x in dealer) == 0  # owed and paid in the same entry


NOW = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)


def dvp_events(side: str) -> tuple[EscrowAccount, list[Any]]:
    """A DvP settlement's events, with the escrow twins its commands record beside them."""
    s = Settlement.start(
        trade_id="trade-1",
        order_id="o-1",
        user_id="u-1",
        isin="INE123A07043",
        side=side,
        dealer="DLR1",
        qty=Decimal(25),
        terms=terms_of(side, Decimal("2505000.00"), Decimal("5000.00")),
        **WHO,
    )
    s.request_hold(expires_at=NOW, deadline_at=NOW, **WHO)
    s.hold_placed(hold_id="h", **WHO)
    if side == "BUY":
        s.clear_investor_cash(**WHO)
    else:
        s.instruct_payment(deadline_at=NOW, **WHO)
        s.confirm_payment(reference="SBXSETIN", **WHO)
    s.request_token_transfer(deadline_at=NOW, **WHO)
    s.token_transferred(tx_hash="0x", **WHO)
    if side == "BUY":
        s.instruct_payout(deadline_at=NOW, **WHO)
        s.confirm_payout(reference="SBXSETOUT", **WHO)
    s.complete(**WHO)
    account = EscrowAccount.open("u-1", **WHO)
    account.initiate_deposit("pay-1", Decimal("3000000"), PaymentMethod.RTGS, request_fingerprint="f", **WHO)
    account.confirm_payment("pay-1", "BANKREF1", Decimal("3000000"), "evt-1", **WHO)
    if side == "BUY":
        account.reserve("o-1", s.consideration, **WHO)
        account.debit("o-1", s.consideration, "trade-1", **WHO)
    else:
        account.credit("sale:trade-1", s.consideration, "sale proceeds", **WHO)
    return account, [*account.collect_events(), *s.collect_events()]


@pytest.mark.parametrize("side", ["BUY", "SELL"])
def test_a_dvp_trade_posts_each_movement_once_with_the_fee_and_stamp_duty(side: str) -> None:
    account, events = dvp_events(side)
    facts = Facts(account, side, dvp=True)
    balances: dict[str, Decimal] = {}
    for event in events:
        draft = draft_for(event, facts)
        for line in balanced_lines(draft.lines) if draft else []:
            balances[line.account] = balances.get(line.account, Decimal(0)) + line.debit - line.credit
    assert sum(balances.values()) == 0
    assert balances.get("clearing", Decimal(0)) == 0 and balances.get("dealer:DLR1", Decimal(0)) == 0
    assert balances["platform:fees"] == Decimal("-5000.00")
    deposit = Decimal("3000000.00")
    if side == "BUY":  # investor pays gross + fee + stamp duty; the dealer is paid the gross from the bank
        assert balances["tax:stamp_duty"] == Decimal("-2.50")
        assert -balances["investor:u-1:available"] == deposit - Decimal("2505002.50")
        assert balances["bank:escrow"] == deposit - Decimal("2500000.00")
    else:  # the dealer pays the gross into the bank; the investor gets gross − fee
        assert "tax:stamp_duty" not in balances
        assert -balances["investor:u-1:available"] == deposit + Decimal("2495000.00")
        assert balances["bank:escrow"] == deposit + Decimal("2500000.00")


def test_the_postings_follow_only_events_that_exist() -> None:
    from eventsourcing.utils import resolve_topic

    for topic in POSTINGS:
        assert resolve_topic(topic) is not None


def bank(reference: str, credit: str = "0", debit: str = "0") -> BankLine:
    return BankLine(DAY, reference, Decimal(debit), Decimal(credit), Decimal(0))


def ledger(reference: str, debit: str = "0", credit: str = "0") -> LedgerLine:
    return LedgerLine(f"e-{reference}", DAY, reference, Decimal(debit), Decimal(credit))


def test_reconciliation_matches_reference_direction_and_amount_and_lists_the_rest_as_breaks() -> None:
    result = match(
        DAY,
        [bank("A", credit="100"), bank("B", debit="50"), bank("ONLY_BANK", credit="7")],
        [ledger("A", debit="100"), ledger("B", credit="50"), ledger("ONLY_LEDGER", credit="3")],
    )
    assert result.matched == 2
    assert (result.bank_breaks, result.ledger_breaks) == (1, 1)
    assert {b.reference for b in result.breaks} == {"ONLY_BANK", "ONLY_LEDGER"}
    wrong_way = match(DAY, [bank("A", credit="100")], [ledger("A", credit="100")])
    assert (wrong_way.matched, len(wrong_way.breaks)) == (0, 2)


def test_a_second_run_with_the_same_result_records_nothing() -> None:
    day = Reconciliation.start(DAY, **WHO)
    result = match(DAY, [bank("A", credit="1")], [ledger("A", debit="1")])
    assert day.complete(result, **WHO)
    assert not day.complete(match(DAY, [bank("A", credit="1")], [ledger("A", debit="1")]), **WHO)
    assert day.complete(match(DAY, [bank("A", credit="1")], []), **WHO)
    names = [type(e).__name__ for e in day.collect_events()]
    assert names == ["Started", "ReconciliationCompleted", "ReconciliationCompleted"]
