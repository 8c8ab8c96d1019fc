"""The EscrowAccount: deposits, reservations, debits, credits and withdrawals keep the cash invariant,
and a refused command records nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from bondflow.domain.escrow import (
    EscrowAccount,
    PaymentKind,
    PaymentMethod,
    PaymentStatus,
    escrow_id,
    escrow_id_of_payment,
    payment_id_for,
)
from bondflow.errors import InsufficientFunds, InvalidRequest, NotFound

WHO: dict[str, Any] = {"actor_id": "u-1", "request_id": "req-1"}
D = Decimal


def funded(amount: str = "1000.00") -> EscrowAccount:
    account = EscrowAccount.open("u-1", **WHO)
    account.initiate_deposit("pay-1", D(amount), PaymentMethod.NEFT, request_fingerprint="fp", **WHO)
    account.confirm_payment("pay-1", "REF1", D(amount), "evt-1", **WHO)
    return account


def names(account: EscrowAccount) -> list[str]:
    return [type(e).__name__ for e in account.collect_events()]


def test_a_confirmed_deposit_becomes_available() -> None:
    account = funded("2500.50")
    assert (account.available, account.reserved) == (D("2500.50"), D("0.00"))
    assert names(account) == ["Opened", "DepositInitiated", "PaymentConfirmed"]
    assert account.payment("pay-1").status is PaymentStatus.CONFIRMED


def test_a_second_confirmation_of_the_same_payment_records_nothing() -> None:
    account = funded("100")
    account.collect_events()
    assert account.confirm_payment("pay-1", "REF1", D("100"), "evt-1", **WHO) is False
    assert account.confirm_payment("pay-1", "REF1", D("100"), "evt-2", **WHO) is False
    assert account.fail_payment("pay-1", "REF1", D("100"), "evt-3", "late failure", **WHO) is False
    assert names(account) == []
    assert account.available == D("100.00")


def test_a_confirmation_with_another_amount_is_a_break_for_operators_and_credits_nothing() -> None:
    account = EscrowAccount.open("u-1", **WHO)
    account.initiate_deposit("pay-1", D("500"), PaymentMethod.UPI, request_fingerprint="fp", **WHO)
    assert account.confirm_payment("pay-1", "REF1", D("5000"), "evt-1", **WHO) is True
    payment = account.payment("pay-1")
    assert payment.status is PaymentStatus.BROKEN
    assert payment.reason is not None and payment.reason.startswith("amount_mismatch")
    assert account.available == D("0.00")
    assert names(account)[-1] == "PaymentBreakRaised"


def test_a_failed_deposit_credits_nothing() -> None:
    account = EscrowAccount.open("u-1", **WHO)
    account.initiate_deposit("pay-1", D("500.13"), PaymentMethod.UPI, request_fingerprint="fp", **WHO)
    account.fail_payment("pay-1", "REF", D("500.13"), "evt-1", "provider reported FAILED", **WHO)
    assert account.available == D("0.00")


@pytest.mark.parametrize(
    ("amount", "method"),
    [
        ("0", "NEFT"),
        ("-1", "NEFT"),
        ("1.001", "NEFT"),
        ("100000.01", "UPI"),
        ("199999.99", "RTGS"),
        ("100000000.01", "NEFT"),
    ],
)
def test_deposits_outside_the_method_limits_or_paise_are_refused(amount: str, method: str) -> None:
    account = EscrowAccount.open("u-1", **WHO)
    account.collect_events()
    with pytest.raises(InvalidRequest):
        account.initiate_deposit("pay-1", D(amount), PaymentMethod(method), request_fingerprint="fp", **WHO)
    assert names(account) == []


def test_the_method_limits_themselves_are_allowed() -> None:
    account = EscrowAccount.open("u-1", **WHO)
    account.initiate_deposit("p1", D("100000"), PaymentMethod.UPI, request_fingerprint="fp", **WHO)
    account.initiate_deposit("p2", D("200000"), PaymentMethod.RTGS, request_fingerprint="fp", **WHO)
    account.initiate_deposit("p3", D("0.01"), PaymentMethod.NEFT, request_fingerprint="fp", **WHO)
    assert [p.amount for p in account.payments.values()] == [D("100000.00"), D("200000.00"), D("0.01")]


def test_reserving_more_than_available_is_refused_with_both_amounts() -> None:
    account = funded("100")
    account.collect_events()
    with pytest.raises(InsufficientFunds) as refused:
        account.reserve("order-1", D("100.01"), **WHO)
    assert refused.value.code == "BF-ORD-007"
    assert refused.value.details == {"available": "100.00", "required": "100.01"}
    assert names(account) == []


def test_a_reservation_is_debited_in_parts_and_the_rest_released() -> None:
    account = funded("1000")
    account.reserve("order-1", D("600"), **WHO)
    assert (account.available, account.reserved) == (D("400.00"), D("600.00"))
    assert account.debit("order-1", D("250.25"), "trade-1", **WHO) is True
    assert account.debit("order-1", D("250.25"), "trade-1", **WHO) is False  # the same trade again
    assert account.release("order-1", **WHO) == D("349.75")
    assert account.release("order-1", **WHO) == D("0.00")  # nothing left: idempotent
    assert (account.available, account.reserved, account.reservations) == (D("749.75"), D("0.00"), {})


def test_a_debit_never_takes_more_than_the_reservation_holds() -> None:
    account = funded("1000")
    account.reserve("order-1", D("100"), **WHO)
    account.collect_events()
    with pytest.raises(InsufficientFunds):
        account.debit("order-1", D("100.01"), "trade-1", **WHO)
    with pytest.raises(InsufficientFunds):
        account.debit("order-2", D("1"), "trade-2", **WHO)
    assert names(account) == []


def test_a_partial_release_gives_back_at_most_what_is_held() -> None:
    account = funded("1000")
    account.reserve("order-1", D("100"), **WHO)
    assert account.release("order-1", D("40"), **WHO) == D("40.00")
    assert account.release("order-1", D("400"), **WHO) == D("60.00")
    assert account.available == D("1000.00")


def test_a_credit_is_applied_once_per_reference() -> None:
    account = funded("10")
    assert account.credit("refund:trade-1", D("99.99"), "refund", **WHO) is True
    assert account.credit("refund:trade-1", D("99.99"), "refund", **WHO) is False
    assert account.available == D("109.99")


def test_a_withdrawal_waits_as_pending_and_is_paid_or_returned() -> None:
    account = funded("1000")
    account.request_withdrawal("wdr-1", D("300"), request_fingerprint="fp", **WHO)
    account.request_withdrawal("wdr-2", D("200"), PaymentMethod.UPI, request_fingerprint="fp", **WHO)
    assert (account.available, account.pending_withdrawal) == (D("500.00"), D("500.00"))
    account.confirm_payment("wdr-1", "R1", D("300"), "evt-w1", **WHO)
    account.fail_payment("wdr-2", "R2", D("200"), "evt-w2", "bank rejected", **WHO)
    assert (account.available, account.pending_withdrawal) == (D("700.00"), D("0.00"))
    assert names(account)[-4:] == [
        "WithdrawalRequested",
        "WithdrawalRequested",
        "WithdrawalPaid",
        "WithdrawalFailed",
    ]


def test_withdrawing_more_than_available_is_refused() -> None:
    account = funded("100")
    account.reserve("order-1", D("60"), **WHO)
    account.collect_events()
    with pytest.raises(InsufficientFunds):
        account.request_withdrawal("wdr-1", D("40.01"), request_fingerprint="fp", **WHO)
    assert names(account) == []


def test_an_unknown_payment_is_not_found() -> None:
    with pytest.raises(NotFound):
        funded().confirm_payment("pay-x", "R", D("1"), "evt", **WHO)


def test_a_payment_id_names_its_account_and_its_key() -> None:
    deposit = payment_id_for("u-1", PaymentKind.DEPOSIT, "key-1")
    assert deposit.startswith("pay_") and escrow_id_of_payment(deposit) == escrow_id("u-1")
    assert payment_id_for("u-1", PaymentKind.DEPOSIT, "key-1") == deposit
    assert payment_id_for("u-1", PaymentKind.WITHDRAWAL, "key-1").startswith("wdr_")
    assert payment_id_for("u-2", PaymentKind.DEPOSIT, "key-1") != deposit
    assert escrow_id_of_payment("pay_nothex") is None
