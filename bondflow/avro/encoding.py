"""Published records as Avro: the datum for a schema, and Avro single-object encoding on the wire.

Framing (documented for consumers): `0xC3 0x01`, then the 8-byte little-endian CRC-64-AVRO fingerprint of
the writer schema's parsing canonical form, then the Avro binary body.
"""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import fastavro

from bondflow.audit.canonical import canonical_bytes
from bondflow.avro.contracts import Contract

MAGIC = b"\xc3\x01"


def _convert(value: Any, schema: Any) -> Any:
    if isinstance(schema, list):  # a union: null first, then the value's branch
        if value is None:
            return None
        branch = next(s for s in schema if s != "null")
        return _convert(value, branch)
    if isinstance(schema, dict):
        logical = schema.get("logicalType")
        kind = schema.get("type")
        if logical == "decimal":
            return Decimal(value).quantize(Decimal(1).scaleb(-int(schema["scale"])))
        if logical == "uuid":
            return str(value) if isinstance(value, UUID) else str(UUID(str(value)))
        if logical == "timestamp-micros":
            if not isinstance(value, datetime):
                raise TypeError(f"expected a datetime, got {type(value).__name__}")
            return value
        if kind == "record":
            return {f["name"]: _convert(_field(value, f), f["type"]) for f in schema["fields"]}
        if kind == "enum":
            return getattr(value, "value", value)
        return _convert(value, kind)
    if schema == "string" and isinstance(value, dict):
        return canonical_bytes(value).decode()  # free-form details travel as canonical JSON text
    if schema == "string":
        return str(value)
    return value


def _field(record: Any, field: dict[str, Any]) -> Any:
    if field["name"] in record:
        return record[field["name"]]
    if "default" in field:
        return field["default"]
    raise KeyError(f"record has no field {field['name']!r} and the schema gives no default")


def to_datum(record: dict[str, Any], contract: Contract) -> dict[str, Any]:
    datum: dict[str, Any] = _convert(record, contract.raw)
    return datum


def encode(record: dict[str, Any], contract: Contract) -> bytes:
    buffer = io.BytesIO()
    buffer.write(MAGIC)
    buffer.write(contract.fingerprint)
    fastavro.schemaless_writer(buffer, contract.parsed, to_datum(record, contract))
    return buffer.getvalue()


def decode(frame: bytes, contracts_by_fingerprint: dict[bytes, Contract]) -> dict[str, Any]:
    if frame[:2] != MAGIC:
        raise ValueError("not Avro single-object encoding")
    contract = contracts_by_fingerprint[frame[2:10]]
    datum = fastavro.schemaless_reader(io.BytesIO(frame[10:]), contract.parsed, None)
    if not isinstance(datum, dict):
        raise ValueError("a published record must decode to a record")
    return datum
