"""The Avro encoder never rounds: a value that does not fit its schema is refused. A stored event from
before values were quantized in the domain is published once, at its contract's scale (half-up), and the
canonical bytes the hash covers and the Avro record carry that same value."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import pytest

from bondflow.audit.canonical import canonical_bytes
from bondflow.audit.records import record_of
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import DoesNotFitContract, decode, encode
from bondflow.avro.publication import published_record
from bondflow.domain.trades import Trade

LEGACY_ACCRUED = Decimal("2.552888888888888888888888888888889")  # as stored before the domain quantized it


def executed(accrued: Decimal, consideration: Decimal = Decimal("10255.29")) -> Any:
    trade = Trade(
        id=uuid.uuid4(),
        order_id=str(uuid.uuid4()),
        user_id="u-1",
        isin="INE123A07043",
        side="BUY",
        dealer="dealer-alpha",
        quote_id="q-1",
        qty=Decimal("10.000000"),
        clean_price=Decimal("101.2500"),
        accrued_per_100=accrued,
        face_value=Decimal("1000"),
        consideration=consideration,
        fees=Decimal("5.12"),
        reference_clean_price=Decimal("101.2500"),
        trade_date=date(2026, 11, 25),
        settlement_date=date(2026, 11, 26),
        actor_id="worker",
        request_id="q-1",
    )
    return trade.collect_events()[0]


def frame_of(record: dict[str, Any]) -> bytes:
    return encode(record, current_contracts()[record["topic"]])


def decoded(frame: bytes) -> dict[str, Any]:
    return decode(frame, {c.fingerprint: c for c in current_contracts().values()})


def test_the_encoder_refuses_a_value_with_more_places_than_its_schema() -> None:
    with pytest.raises(DoesNotFitContract, match=r"payload\.accrued_per_100"):
        frame_of(record_of(executed(LEGACY_ACCRUED)))


def test_the_encoder_refuses_a_value_beyond_its_precision() -> None:
    with pytest.raises(DoesNotFitContract, match=r"payload.consideration.*decimal\(20,2\)"):
        frame_of(record_of(executed(Decimal("2.5"), consideration=Decimal(10) ** 19)))


def test_padding_to_the_schema_scale_is_exact() -> None:
    payload = decoded(frame_of(record_of(executed(Decimal("2.5")))))["payload"]
    assert payload["accrued_per_100"] == Decimal("2.5") and payload["face_value"] == Decimal("1000.00")


def test_a_legacy_value_is_published_half_up_and_hash_and_record_agree() -> None:
    record = published_record(executed(LEGACY_ACCRUED))
    assert record["payload"]["accrued_per_100"] == Decimal("2.55288888888888888889")
    canonical = orjson.loads(canonical_bytes(record))
    assert canonical["payload"]["accrued_per_100"] == "2.55288888888888888889"
    avro = decoded(frame_of(record))["payload"]
    assert avro["accrued_per_100"] == Decimal(canonical["payload"]["accrued_per_100"])


def test_half_up_means_half_up() -> None:
    record = published_record(executed(Decimal("1.000000000000000000005")))  # 21 places, a 5 at the end
    assert record["payload"]["accrued_per_100"] == Decimal("1.00000000000000000001")


def test_values_that_fit_are_published_digit_for_digit() -> None:
    event = executed(Decimal("2.5"))
    assert canonical_bytes(published_record(event)) == canonical_bytes(record_of(event))
