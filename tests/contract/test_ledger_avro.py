"""The ledger and reconciliation events' regulator contract: each has a topic and schema with exactly its
fields, and a journal entry's lines (an array of records) round-trip to the paise."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from bondflow.audit.records import ENVELOPE_ATTRIBUTES, record_of
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import decode, encode
from bondflow.domain import ledger as L
from bondflow.domain.ledger import JournalEntry
from bondflow.domain.reconciliation import BankLine, Reconciliation, match

DAY = date(2026, 11, 25)


def ledger_events() -> list[Any]:
    entry = JournalEntry.post(
        kind="dealer_payout",
        reference="SBXSET0123",
        value_date=DAY,
        source_topic="bondflow.domain.settlement:Settlement.PaymentConfirmed",
        source_id=uuid.uuid4(),
        source_version=3,
        lines=[
            *L.transfer(L.CLEARING, "dealer:DLR1", Decimal("1005.255")),
            *L.transfer("dealer:DLR1", L.BANK_ESCROW, Decimal("1005.255")),
        ],
    )
    day = Reconciliation.start(DAY, actor_id="ops", request_id="r")
    day.complete(
        match(DAY, [BankLine(DAY, "X", Decimal(0), Decimal("5"), Decimal("5"))], []),
        actor_id="o",
        request_id="r",
    )
    return [*entry.collect_events(), *day.collect_events()]


def test_ledger_events_declare_exactly_their_schema_and_round_trip() -> None:
    contracts = current_contracts()
    by_fingerprint = {c.fingerprint: c for c in contracts.values()}
    topics = []
    for event in ledger_events():
        record = record_of(event)
        topics.append(record["topic"])
        contract = contracts[record["topic"]]
        payload = next(f for f in contract.raw["fields"] if f["name"] == "payload")
        assert set(event.__dict__) - ENVELOPE_ATTRIBUTES == {f["name"] for f in payload["type"]["fields"]}
        decoded = decode(encode(record, contract), by_fingerprint)["payload"]
        if record["topic"] == "ledger.journal_entry_posted.v1":
            assert decoded["value_date"] == DAY
            assert [(x["account"], x["debit"], x["credit"]) for x in decoded["lines"]] == [
                ("clearing", Decimal("1005.26"), Decimal("0.00")),
                ("dealer:DLR1", Decimal("0.00"), Decimal("1005.26")),
                ("dealer:DLR1", Decimal("1005.26"), Decimal("0.00")),
                ("bank:escrow", Decimal("0.00"), Decimal("1005.26")),
            ]
        if record["topic"] == "reconciliation.completed.v1":
            assert (decoded["bank_breaks"], decoded["break_references"]) == (1, ["bank:X"])
    assert topics == [
        "ledger.journal_entry_posted.v1",
        "reconciliation.started.v1",
        "reconciliation.completed.v1",
    ]
