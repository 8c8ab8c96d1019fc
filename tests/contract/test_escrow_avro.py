"""The escrow and payment events' regulator contract: each has a topic, every attribute is declared in its
schema's payload (no more, no less), and records round-trip exactly (amounts to the paise)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bondflow.audit.records import ENVELOPE_ATTRIBUTES, record_of
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import decode, encode
from bondflow.domain.escrow import EscrowAccount, PaymentMethod

WHO: dict[str, Any] = {"actor_id": "u-1", "request_id": "r"}


def every_escrow_event() -> list[Any]:
    account = EscrowAccount.open("u-1", **WHO)
    account.initiate_deposit("pay-1", Decimal("1000.50"), PaymentMethod.NEFT, request_fingerprint="f", **WHO)
    account.confirm_payment("pay-1", "REF", Decimal("1000.50"), "evt-1", **WHO)
    account.initiate_deposit("pay-2", Decimal("5"), PaymentMethod.UPI, request_fingerprint="f", **WHO)
    account.fail_payment("pay-2", None, None, None, "BF-PAY-006: refused", **WHO)
    account.reserve("order-1", Decimal("400"), **WHO)
    account.debit("order-1", Decimal("100.25"), "trade-1", **WHO)
    account.release("order-1", **WHO)
    account.credit("refund:trade-1", Decimal("0.01"), "refund", **WHO)
    account.request_withdrawal("wdr-1", Decimal("10"), request_fingerprint="f", **WHO)
    account.request_withdrawal("wdr-2", Decimal("20"), request_fingerprint="f", **WHO)
    account.confirm_payment("wdr-1", "REF", Decimal("10"), "evt-2", **WHO)
    account.fail_payment("wdr-2", "REF", Decimal("20"), "evt-3", "bank rejected", **WHO)
    account.initiate_deposit("pay-3", Decimal("7"), PaymentMethod.UPI, request_fingerprint="f", **WHO)
    account.confirm_payment("pay-3", "REF", Decimal("70"), "evt-4", **WHO)  # a mismatch: a break
    account.resolve_break(
        "pay-3",
        provider_confirmed=True,
        provider_amount=Decimal("70"),
        reference="REF",
        provider_event_id="evt-4",
        bank_amount=Decimal("70"),
        **WHO,
    )
    return list(account.collect_events())


def test_every_escrow_event_type_is_sampled() -> None:
    assert {type(e).__name__ for e in every_escrow_event()} == {
        "Opened",
        "DepositInitiated",
        "PaymentConfirmed",
        "PaymentFailed",
        "FundsReserved",
        "FundsReleased",
        "FundsDebited",
        "FundsCredited",
        "WithdrawalRequested",
        "WithdrawalPaid",
        "WithdrawalFailed",
        "PaymentBreakRaised",
        "PaymentAmountCorrected",
    }


def test_every_escrow_event_attribute_is_in_its_schema_payload() -> None:
    contracts = current_contracts()
    for event in every_escrow_event():
        record = record_of(event)
        payload = next(f for f in contracts[record["topic"]].raw["fields"] if f["name"] == "payload")
        declared = {f["name"] for f in payload["type"]["fields"]}
        assert set(event.__dict__) - ENVELOPE_ATTRIBUTES == declared, record["topic"]


def test_escrow_records_round_trip_exactly() -> None:
    contracts = current_contracts()
    by_fingerprint = {c.fingerprint: c for c in contracts.values()}
    for event in every_escrow_event():
        record = record_of(event)
        decoded = decode(encode(record, contracts[record["topic"]]), by_fingerprint)
        assert decoded["event_type"] == type(event).__qualname__
        for name, value in record["payload"].items():
            assert decoded["payload"][name] == value, (record["topic"], name)
    confirmed = next(e for e in every_escrow_event() if type(e).__name__ == "PaymentConfirmed")
    assert decode(encode(record_of(confirmed), contracts["payment.status.v1"]), by_fingerprint)["payload"][
        "amount"
    ] == Decimal("1000.50")
