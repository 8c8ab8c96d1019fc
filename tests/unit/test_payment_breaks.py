"""Payment breaks on the EscrowAccount: a provider answer that does not fit, or none by the deadline, hands
the payment to operators without moving money; a resolution credits only what the provider confirmed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bondflow.domain.escrow import EscrowAccount, PaymentMethod, PaymentStatus
from bondflow.errors import PaymentNotResolvable

WHO: dict[str, Any] = {"actor_id": "t", "request_id": "r"}
D = Decimal


def account_with(kind: str = "deposit", amount: str = "100") -> EscrowAccount:
    account = EscrowAccount.open("u-1", **WHO)
    if kind == "deposit":
        account.initiate_deposit("pay-1", D(amount), PaymentMethod.NEFT, request_fingerprint="f", **WHO)
    else:
        account.initiate_deposit("pay-0", D("500"), PaymentMethod.NEFT, request_fingerprint="f", **WHO)
        account.confirm_payment("pay-0", "R0", D("500"), "e0", **WHO)
        account.request_withdrawal("pay-1", D(amount), request_fingerprint="f", **WHO)
    return account


def resolve(account: EscrowAccount, confirmed: bool | None, amount: str | None, bank: str | None) -> Any:
    return account.resolve_break(
        "pay-1",
        provider_confirmed=confirmed,
        provider_amount=None if amount is None else D(amount),
        reference="REF",
        provider_event_id="pevt",
        bank_amount=None if bank is None else D(bank),
        **WHO,
    )


def test_a_confirmation_of_another_amount_is_a_break_that_credits_nothing() -> None:
    account = account_with()
    assert account.confirm_payment("pay-1", "R", D("1000"), "e1", **WHO)
    assert account.payment("pay-1").status is PaymentStatus.BROKEN
    assert account.payment("pay-1").reason.startswith("amount_mismatch")  # type: ignore[union-attr]
    assert account.available == 0
    assert not account.confirm_payment("pay-1", "R", D("100"), "e2", **WHO)  # only an operator settles it
    assert not account.fail_payment("pay-1", "R", D("100"), "e3", "x", **WHO)


def test_a_deadline_break_still_takes_the_providers_late_answer() -> None:
    account = account_with()
    assert account.raise_break("pay-1", None, None, None, "deadline: none by T", **WHO)
    assert not account.raise_break("pay-1", None, None, None, "deadline: none by T", **WHO)
    assert account.confirm_payment("pay-1", "R", D("100"), "e1", **WHO)
    assert (account.payment("pay-1").status, account.available) == (PaymentStatus.CONFIRMED, D("100"))


def test_a_withdrawal_break_keeps_its_amount_pending_until_resolved() -> None:
    account = account_with("withdrawal", "200")
    account.raise_break("pay-1", None, None, None, "deadline: none by T", **WHO)
    assert (account.available, account.pending_withdrawal) == (D("300"), D("200"))
    assert resolve(account, False, None, "0") is PaymentStatus.FAILED
    assert (account.available, account.pending_withdrawal) == (D("500"), D("0"))


def test_an_operator_credits_the_bank_statements_amount_only_when_the_provider_confirmed_it() -> None:
    account = account_with()
    account.confirm_payment("pay-1", "R", D("1000"), "e1", **WHO)
    with pytest.raises(PaymentNotResolvable):
        resolve(account, True, "100", "1000")  # the provider confirmed 100, the statement says 1000
    with pytest.raises(PaymentNotResolvable):
        resolve(account, None, None, "100")  # the provider has no final answer yet
    with pytest.raises(PaymentNotResolvable):
        resolve(account, False, None, "100")  # the provider says nothing moved
    assert account.available == 0 and account.payment("pay-1").status is PaymentStatus.BROKEN
    assert resolve(account, True, "1000", "1000") is PaymentStatus.CONFIRMED
    assert account.available == D("1000") and account.payment("pay-1").amount == D("1000")
    with pytest.raises(PaymentNotResolvable):
        resolve(account, True, "1000", "1000")  # once resolved it is no longer a break: never twice


def test_a_requery_that_confirms_the_initiated_amount_resolves_without_a_bank_amount() -> None:
    account = account_with()
    account.confirm_payment("pay-1", "R", D("1000"), "e1", **WHO)
    with pytest.raises(PaymentNotResolvable):
        resolve(account, True, "1000", None)  # another amount needs the bank statement's word
    assert resolve(account, True, "100", None) is PaymentStatus.CONFIRMED
    assert account.available == D("100")
    names = [type(e).__name__ for e in account.collect_events()]
    assert names[-2:] == ["PaymentBreakRaised", "PaymentConfirmed"]
