"""Every topic, decoded by an Avro implementation that is not ours: Apache Avro's Java BinaryMessageDecoder
reads our single-object frames knowing only the schema files, and each record it reads is exactly the
canonical record (the bytes the `hash` covers)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest

from bondflow.audit.canonical import canonical_bytes
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import encode
from bondflow.avro.publication import published_record
from tests.contract.test_avro_contracts import sample_events
from tests.contract.test_avro_exact_values import LEGACY_ACCRUED, executed
from tests.support.avro_java import differences, java_decode


def sample_value(schema: Any, name: str, variant: int) -> Any:
    """A value of `schema` in domain form (Decimal, datetime, UUID, date …); `variant` 1 leaves optionals null."""
    if isinstance(schema, list):
        return None if variant == 1 else sample_value(next(s for s in schema if s != "null"), name, variant)
    if isinstance(schema, str):
        return {"string": f'{name}-é"\\', "int": -7, "long": 2**40 + 3, "boolean": True}.get(schema, schema)
    logical, kind = schema.get("logicalType"), schema.get("type")
    if logical == "decimal":
        digits = int(schema["precision"]) - int(schema["scale"])
        return (
            Decimal(f"-{'9' * min(digits, 12)}.{'7' * int(schema['scale'])}") if variant else Decimal("12.5")
        )
    if logical == "timestamp-micros":
        return datetime(2026, 11, 25, 5, 0, 0, 123456 + variant, tzinfo=UTC)
    if logical == "date":
        return date(2026, 11, 26)
    if logical == "uuid":
        return uuid.UUID(int=0xB0D + variant)
    if kind == "record":
        return {f["name"]: sample_value(f["type"], f["name"], variant) for f in schema["fields"]}
    if kind == "enum":
        return schema["symbols"][-1]
    if kind == "array":
        return [sample_value(schema["items"], name, variant), sample_value(schema["items"], name, 0)]
    return sample_value(kind, name, variant)


def test_java_reads_every_topic_as_exactly_the_canonical_record() -> None:
    contracts = current_contracts()
    records = [sample_value(c.raw, "r", v) | {"topic": t} for t, c in contracts.items() for v in (0, 1)]
    records += [published_record(e) for e in [*sample_events(), executed(LEGACY_ACCRUED)]]
    decoded = java_decode((r["topic"], encode(r, contracts[r["topic"]])) for r in records)
    assert len(decoded) == len(records)
    for record, java in zip(records, decoded, strict=True):
        canonical = orjson.loads(canonical_bytes(record))
        assert differences(java, canonical, contracts[record["topic"]].raw) == [], record["topic"]
    assert {r["topic"] for r in records} == set(contracts)


def test_java_refuses_a_frame_whose_fingerprint_is_byte_reversed() -> None:
    """What every consumer saw before the fix: the header's fingerprint names no schema it knows."""
    contract = current_contracts()["order.placed.v1"]
    frame = encode(sample_value(contract.raw, "r", 0) | {"topic": "order.placed.v1"}, contract)
    reversed_fingerprint = frame[:2] + frame[2:10][::-1] + frame[10:]
    with pytest.raises(AssertionError, match="MissingSchemaException"):
        java_decode([("order.placed.v1", reversed_fingerprint)])
