"""Published records as Avro: the datum for a schema, and Avro single-object encoding on the wire.

Framing (documented for consumers): `0xC3 0x01`, then the 8-byte little-endian CRC-64-AVRO fingerprint of
the writer schema's parsing canonical form, then the Avro binary body.

The encoder never rounds: a decimal that does not fit its schema's precision and scale is refused
(`DoesNotFitContract`). Values are quantized where they are decided, in the domain (DOMAIN.md).
"""

from __future__ import annotations

import decimal
import functools
import io
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import fastavro

from bondflow.audit.canonical import canonical_bytes
from bondflow.avro.contracts import Contract

MAGIC = b"\xc3\x01"


class DoesNotFitContract(ValueError):
    """A value has more digits than its schema allows: publishing it would change it."""


@functools.cache
def _exactly(precision: int, scale: int) -> tuple[decimal.Context, Decimal]:
    """The context that refuses rounding at `precision`, and the quantum of `scale` places."""
    context = decimal.Context(prec=precision, traps=[decimal.Inexact, decimal.InvalidOperation])
    return context, Decimal(1).scaleb(-scale)


def exact_decimal(value: Any, precision: int, scale: int, path: str) -> Decimal:
    """`value` at exactly `scale` places, or `DoesNotFitContract`; padding zeros is exact, rounding is refused."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    exact, quantum = _exactly(precision, scale)
    try:
        return number.quantize(quantum, context=exact)
    except decimal.DecimalException:
        raise DoesNotFitContract(
            f"{path}: {number} does not fit decimal({precision},{scale}) without rounding"
        ) from None


def _convert(value: Any, schema: Any, path: str = "") -> Any:
    if isinstance(schema, list):  # a union: null first, then the value's branch
        if value is None:
            return None
        branch = next(s for s in schema if s != "null")
        return _convert(value, branch, path)
    if isinstance(schema, dict):
        logical = schema.get("logicalType")
        kind = schema.get("type")
        if logical == "decimal":
            return exact_decimal(value, int(schema["precision"]), int(schema["scale"]), path)
        if logical == "uuid":
            return str(value) if isinstance(value, UUID) else str(UUID(str(value)))
        if logical == "timestamp-micros":
            if not isinstance(value, datetime):
                raise TypeError(f"expected a datetime, got {type(value).__name__}")
            return value
        if kind == "array":
            return [_convert(item, schema["items"]) for item in value]
        if kind == "record":
            return {
                f["name"]: _convert(_field(value, f), f["type"], f"{path}.{f['name']}".lstrip("."))
                for f in schema["fields"]
            }
        if kind == "enum":
            return getattr(value, "value", value)
        return _convert(value, kind, path)
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


Converter = Callable[[Any], Any]


def _compiled(schema: Any, path: str = "") -> Converter:
    """`_convert` for one schema, worked out once: the same results (and the same refusals) without walking
    the schema per value."""
    if isinstance(schema, list):
        branch = _compiled(next(s for s in schema if s != "null"), path)
        return lambda value: None if value is None else branch(value)
    if isinstance(schema, dict):
        logical = schema.get("logicalType")
        kind = schema.get("type")
        if logical == "decimal":
            precision, scale = int(schema["precision"]), int(schema["scale"])
            return lambda value: exact_decimal(value, precision, scale, path)
        if logical == "uuid":
            return lambda value: str(value) if isinstance(value, UUID) else str(UUID(str(value)))
        if logical == "timestamp-micros":
            return _timestamp
        if kind == "array":
            item = _compiled(schema["items"], f"{path}[]")
            return lambda value: [item(v) for v in value]
        if kind == "record":
            fields = [
                (f["name"], f, _compiled(f["type"], f"{path}.{f['name']}".lstrip(".")))
                for f in schema["fields"]
            ]
            return lambda value: {name: convert(_field(value, f)) for name, f, convert in fields}
        if kind == "enum":
            return lambda value: getattr(value, "value", value)
        return _compiled(kind, path)
    if schema == "string":
        return lambda value: canonical_bytes(value).decode() if isinstance(value, dict) else str(value)
    return lambda value: value


def _timestamp(value: Any) -> Any:
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return value


_converters: dict[int, tuple[Any, Converter, Any]] = {}  # id(contract) → (contract, converter, write schema)


def _prepared(contract: Contract) -> tuple[Converter, Any]:
    known = _converters.get(id(contract))
    if known is None or known[0] is not contract:
        # a schema parsed for writing: fastavro then does not parse it again on every record
        known = _converters[id(contract)] = (
            contract,
            _compiled(contract.raw),
            fastavro.parse_schema(contract.raw),
        )
    return known[1], known[2]


def to_datum(record: dict[str, Any], contract: Contract) -> dict[str, Any]:
    datum: dict[str, Any] = _prepared(contract)[0](record)
    return datum


def encode(record: dict[str, Any], contract: Contract) -> bytes:
    convert, schema = _prepared(contract)
    buffer = io.BytesIO()
    buffer.write(MAGIC)
    buffer.write(contract.fingerprint)
    fastavro.schemaless_writer(buffer, schema, convert(record))
    return buffer.getvalue()


def decode(frame: bytes, contracts_by_fingerprint: dict[bytes, Contract]) -> dict[str, Any]:
    if frame[:2] != MAGIC:
        raise ValueError("not Avro single-object encoding")
    contract = contracts_by_fingerprint[frame[2:10]]
    datum = fastavro.schemaless_reader(io.BytesIO(frame[10:]), contract.parsed, None)
    if not isinstance(datum, dict):
        raise ValueError("a published record must decode to a record")
    return datum
