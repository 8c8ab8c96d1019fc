"""The regulator contract: every published event has a valid Avro schema that covers all its fields,
encodes and decodes exactly, and every schema change stays FULL_TRANSITIVE compatible."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from bondflow.audit.records import ENVELOPE_ATTRIBUTES, NEVER_PUBLISHED, TOPICS, record_of
from bondflow.avro.compat import full_transitive_problems, problems
from bondflow.avro.contracts import SCHEMA_DIR, current_contracts, history
from bondflow.avro.encoding import decode, encode
from bondflow.domain.orders import Order


def sample_order() -> Order:
    order = Order(
        id=uuid.uuid4(),
        user_id="u-1",
        isin="INE123A07043",
        side="BUY",
        qty=Decimal("12.5"),
        limit_clean_price=Decimal("99.75"),
        placed_at=datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC),
        request_fingerprint="ab" * 32,
        actor_id="u-1",
        request_id="req-1",
    )
    order.reject(code="BF-ORD-006", reason="band", details={"limit": "x"}, actor_id="s", request_id="r")
    return order


def sample_events() -> list[Any]:
    placed_and_rejected = sample_order().collect_events()
    accepted = Order(
        id=uuid.uuid4(),
        user_id="u-2",
        isin="INE123A07043",
        side="SELL",
        qty=Decimal("1"),
        limit_clean_price=None,
        placed_at=datetime(2026, 11, 23, tzinfo=UTC),
        request_fingerprint="f",
        actor_id="u-2",
        request_id="r",
    )
    accepted.accept(actor_id="u-2", request_id="r")
    accepted.cancel(reason="by investor", request_fingerprint=None, actor_id="u-2", request_id="r2")
    return [*placed_and_rejected, *accepted.collect_events()]


def test_every_schema_file_is_valid_avro_named_after_its_topic() -> None:
    contracts = current_contracts()
    assert contracts, f"no schemas found in {SCHEMA_DIR}"
    for topic, contract in contracts.items():
        assert contract.raw["fields"][2]["name"] == "topic", topic
        assert topic.count(".") >= 2 and topic.rsplit(".", 1)[1].startswith("v")


def test_every_published_event_type_has_a_schema() -> None:
    missing = sorted(set(TOPICS.values()) - set(current_contracts()))
    assert not missing, f"topics without a schema in schemas/avro: {missing}"


def test_every_event_attribute_is_in_its_schema_payload() -> None:
    contracts = current_contracts()
    for event in sample_events():
        record = record_of(event)
        payload_schema = next(f for f in contracts[record["topic"]].raw["fields"] if f["name"] == "payload")
        declared = {f["name"] for f in payload_schema["type"]["fields"]}
        attributes = set(event.__dict__) - ENVELOPE_ATTRIBUTES - NEVER_PUBLISHED
        assert attributes == declared, (
            f"{record['topic']}: event has {sorted(attributes)}, schema {sorted(declared)}"
        )


def test_records_round_trip_through_single_object_encoding_exactly() -> None:
    contracts = current_contracts()
    by_fingerprint = {c.fingerprint: c for c in contracts.values()}
    for event in sample_events():
        record = record_of(event)
        frame = encode(record, contracts[record["topic"]])
        assert frame[:2] == b"\xc3\x01"
        decoded = decode(frame, by_fingerprint)
        assert str(decoded["event_id"]) == record["event_id"]
        assert decoded["recorded_at"] == record["recorded_at"]
        if record["topic"] == "order.placed.v1" and record["payload"]["user_id"] == "u-1":
            assert decoded["payload"]["qty"] == Decimal("12.500000")
            assert decoded["payload"]["limit_clean_price"] == Decimal("99.7500")
            assert decoded["payload"]["placed_at"] == datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)
        if record["topic"] == "order.rejected.v1":
            assert json.loads(decoded["payload"]["details"]) == {"limit": "x"}


@pytest.mark.parametrize("topic", sorted(TOPICS.values()))
def test_each_topic_is_full_transitive_compatible_with_all_its_versions(topic: str) -> None:
    versions = history(topic)
    assert versions, f"schemas/avro/history/{topic}/ must hold every published version (1.avsc, 2.avsc …)"
    current = current_contracts()[topic].raw
    assert current == versions[-1], (
        f"{topic}.avsc changed: add it as schemas/avro/history/{topic}/{len(versions) + 1}.avsc, "
        "after checking it is FULL_TRANSITIVE compatible"
    )
    assert full_transitive_problems(versions) == []


PLACED = json.loads((SCHEMA_DIR / "order.placed.v1.avsc").read_text())


def changed(mutate: Any) -> dict[str, Any]:
    schema = copy.deepcopy(PLACED)
    mutate(schema["fields"][-1]["type"]["fields"])
    return schema


def test_adding_an_optional_field_is_compatible_both_ways() -> None:
    newer = changed(lambda f: f.append({"name": "venue", "type": ["null", "string"], "default": None}))
    assert full_transitive_problems([PLACED, newer]) == []


def test_adding_a_required_field_breaks_backward_compatibility() -> None:
    newer = changed(lambda f: f.append({"name": "venue", "type": "string"}))
    assert any("added without a default" in p for p in problems(PLACED, newer))


def test_changing_decimal_scale_or_time_unit_is_incompatible() -> None:
    def rescale(fields: list[dict[str, Any]]) -> None:
        next(f for f in fields if f["name"] == "qty")["type"]["scale"] = 4

    def millis(fields: list[dict[str, Any]]) -> None:
        next(f for f in fields if f["name"] == "placed_at")["type"]["logicalType"] = "timestamp-millis"

    assert any("decimal(20,6) vs decimal(20,4)" in p for p in problems(PLACED, changed(rescale)))
    assert any("timestamp-micros" in p for p in full_transitive_problems([PLACED, changed(millis)]))


def test_removing_an_enum_symbol_breaks_forward_reading() -> None:
    def drop_sell(fields: list[dict[str, Any]]) -> None:
        next(f for f in fields if f["name"] == "side")["type"]["symbols"] = ["BUY"]

    assert full_transitive_problems([PLACED, changed(drop_sell)]) != []


def domain_event_types() -> set[str]:
    """Every event class of every aggregate in `bondflow.domain`."""
    import importlib
    import pkgutil

    from eventsourcing.domain import Aggregate, DomainEvent

    import bondflow.domain

    found: set[str] = set()
    for module_info in pkgutil.iter_modules(bondflow.domain.__path__):
        module = importlib.import_module(f"bondflow.domain.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Aggregate) and value is not Aggregate:
                for member in vars(value).values():
                    generic = member in (getattr(value, "Created", None), getattr(value, "Event", None))
                    if isinstance(member, type) and issubclass(member, DomainEvent) and not generic:
                        found.add(f"{member.__module__}:{member.__qualname__}")
    return found


def test_every_domain_event_type_is_published_to_a_topic() -> None:
    unpublished = sorted(domain_event_types() - set(TOPICS))
    assert not unpublished, (
        f"events without a regulator topic (add them to TOPICS and schemas/avro): {unpublished}"
    )


def test_listing_events_encode_with_dates_lists_and_decimals() -> None:
    from datetime import date

    from bondflow.domain.ids import derived_id
    from bondflow.domain.instruments import Instrument

    instrument = Instrument(
        id=derived_id("instrument", "IN0020240019"),
        isin="IN0020240019",
        issuer="GoI",
        name="GS",
        coupon_rate=Decimal("7.18"),
        coupon_frequency=2,
        issue_date=date(2024, 7, 24),
        maturity_date=date(2034, 7, 24),
        face_value=Decimal("100"),
        day_count="30E/360",
        rating="SOV",
        rating_bucket="SOV",
        eligible_investor_categories=["retail"],
        allowed_residencies=["IN"],
        record_date_days=15,
        lockup_until=None,
        reference_clean_price=Decimal("101.9"),
        price_band_pct=Decimal("5"),
        actor_id="a",
        request_id="r",
    )
    contracts = current_contracts()
    by_fingerprint = {c.fingerprint: c for c in contracts.values()}
    (event,) = instrument.collect_events()
    record = record_of(event)
    payload_schema = next(f for f in contracts[record["topic"]].raw["fields"] if f["name"] == "payload")
    assert {f["name"] for f in payload_schema["type"]["fields"]} == set(event.__dict__) - ENVELOPE_ATTRIBUTES
    decoded = decode(encode(record, contracts[record["topic"]]), by_fingerprint)["payload"]
    assert decoded["maturity_date"] == date(2034, 7, 24)
    assert decoded["face_value"] == Decimal("100.00")
    assert decoded["allowed_residencies"] == ["IN"]


def test_every_published_event_class_declares_exactly_its_schemas_payload_fields() -> None:
    from eventsourcing.utils import resolve_topic

    contracts = current_contracts()
    for event_topic, topic in TOPICS.items():
        cls = resolve_topic(event_topic)
        declared: set[str] = set()
        for klass in cls.__mro__:
            declared |= set(getattr(klass, "__annotations__", {}))
        declared -= ENVELOPE_ATTRIBUTES | NEVER_PUBLISHED | {"originator_topic", "originator_id_type"}
        payload_schema = next(f for f in contracts[topic].raw["fields"] if f["name"] == "payload")
        in_schema = {f["name"] for f in payload_schema["type"]["fields"]}
        assert declared == in_schema, (
            f"{event_topic} → {topic}: class {sorted(declared)}, schema {sorted(in_schema)}"
        )
