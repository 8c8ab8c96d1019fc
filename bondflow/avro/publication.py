"""The record a stored event is published as: `record_of(event)` with every decimal at its contract's scale.

New events are quantized in the domain when they are decided (DOMAIN.md: half-up, once), so for them this
changes nothing: a value that already fits its schema is passed through untouched, digit for digit.
Events stored before that rule (older databases) may carry more places than their contract, for example
`rfq.executed.v1.accrued_per_100` with 33 places. Such a value is published rounded half-up to the
contract's scale, and that one value is what everything downstream sees: the canonical bytes the `hash`
covers, the regulator stream over HTTP, `bondflow verify` and the Avro record on Kafka. The Avro encoder
itself never rounds (`bondflow.avro.encoding.DoesNotFitContract`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

from bondflow.audit.records import record_of
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import DoesNotFitContract, exact_decimal

log = logging.getLogger(__name__)


def published_record(event: Any) -> dict[str, Any]:
    record = record_of(event)
    scale = _scaler_for(record["topic"])
    return record if scale is None else scale(record)


Scaler = Callable[[Any], Any]
_scalers: dict[str, tuple[Any, Scaler | None]] = {}  # topic → (its contract's schema, compiled scaler)


def _scaler_for(topic: str) -> Scaler | None:
    """The topic's scaler, compiled once from its contract (None: the record has no decimal to scale)."""
    schema = current_contracts()[topic].raw
    known = _scalers.get(topic)
    if known is None or known[0] is not schema:
        known = _scalers[topic] = (schema, _compile(schema, topic))
    return known[1]


def _compile(schema: Any, path: str) -> Scaler | None:
    """A function that puts every decimal under `schema` at its scale, or None where there is none: only the
    branches that hold a decimal are walked for each record."""
    if isinstance(schema, list):  # a union: null first, then the value's branch
        inner = _compile(next(s for s in schema if s != "null"), path)
        return None if inner is None else (lambda value: None if value is None else inner(value))
    if not isinstance(schema, dict):
        return None
    if schema.get("logicalType") == "decimal":
        precision, scale = int(schema["precision"]), int(schema["scale"])
        return lambda value: (
            _legacy_decimal(value, precision, scale, path) if isinstance(value, Decimal) else value
        )
    if schema.get("type") == "record":
        fields = [(f["name"], _compile(f["type"], f"{path}.{f['name']}")) for f in schema["fields"]]
        scaled = [(name, inner) for name, inner in fields if inner is not None]
        return None if not scaled else _record_scaler(scaled)
    if schema.get("type") == "array":
        item = _compile(schema["items"], f"{path}[]")
        return (
            None
            if item is None
            else (lambda value: [item(v) for v in value] if isinstance(value, list) else value)
        )
    return None


def _record_scaler(fields: list[tuple[str, Scaler]]) -> Scaler:
    def scale(value: Any) -> Any:
        """`value` itself when every decimal in it fits (current events), else a copy with them scaled."""
        if not isinstance(value, dict):
            return value
        out = value
        for name, inner in fields:
            given = value.get(name)
            if given is not None:
                scaled = inner(given)
                if scaled is not given:
                    if out is value:
                        out = dict(value)
                    out[name] = scaled
        return out

    return scale


def _legacy_decimal(value: Decimal, precision: int, scale: int, path: str) -> Decimal:
    if value.is_finite():  # the usual case, told without a quantize: no more places and digits than allowed
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= -scale and value.adjusted() + 1 + scale <= precision:
            return value
    try:
        exact_decimal(value, precision, scale, path)
        return value  # fits: unchanged, so the canonical bytes of current events never move
    except DoesNotFitContract:
        # an event stored before its value was quantized in the domain, or a domain that forgot to: say so
        log.warning("published at contract scale (half-up): %s had more than %d places", path, scale)
        return value.quantize(Decimal(1).scaleb(-scale), context=Context(prec=100, rounding=ROUND_HALF_UP))
