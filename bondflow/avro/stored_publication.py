"""The canonical form of a stored event's published record, read straight from its stored JSON: what
`canonical_form(published_record(event))` gives for the decoded event, without building the event.

A rebuild's regulator stream needs only that form (its hash, its row); decoding every event into objects
and turning those back into text was half of its work. Here the stored document is parsed by `orjson` and
each tagged value the library wrote is turned into its canonical text by the text alone:

- `decimal_str` (written as `str(value)`) is the canonical text when it is plain notation;
- `datetime_iso` (written by `isoformat`) in UTC becomes `YYYY-MM-DDTHH:MM:SS.ffffffZ`;
- `uuid_hex` becomes the hyphenated lower-case form, and `date_iso` is already `YYYY-MM-DD`.

Anything else answers None, and the caller decodes the event and takes the general path: an unknown tag,
a float (perhaps an integer beyond 64 bits, read by the library instead), a decimal with an exponent, a
time not in UTC or before the year 1000, an event class that upcasts, and any decimal that might not fit
its contract (`published_record` would round it: only values within the narrowest decimal of the topic's
contract are taken as they are). So the answer is the same form or None, never a different form; the
property test `tests/unit/test_stored_publication.py` holds it to that.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import resolve_topic

from bondflow.audit.records import TOPICS, UNPUBLISHED_ATTRIBUTES
from bondflow.avro.contracts import current_contracts
from bondflow.domain.ids import derived_id_text

Bounds = tuple[int, int]  # (fraction digits, integer digits) every decimal of the topic's contract allows
UNBOUNDED: Bounds = (1 << 30, 1 << 30)


class _Other(Exception):
    """Not something this reads by its text: the caller takes the general path."""


@cache
def _topic_facts(stored_topic: str) -> tuple[str, str, Bounds] | None:
    """(event type, published topic, decimal bounds) of a stored topic; None where the general path must
    decide (no published topic, or a class that upcasts its stored state)."""
    try:
        cls = resolve_topic(stored_topic)
    except Exception:
        return None
    if getattr(cls, "class_version", 1) != 1:
        return None
    published = TOPICS.get(f"{cls.__module__}:{cls.__qualname__}")
    if published is None or published not in current_contracts():
        return None
    return cls.__qualname__, published, _bounds(current_contracts()[published].raw)


def _bounds(schema: Any) -> Bounds:
    """The narrowest fraction and integer digits over every decimal under `schema` (UNBOUNDED: none)."""
    found: list[Bounds] = []

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for branch in node:
                walk(branch)
        elif isinstance(node, dict):
            if node.get("logicalType") == "decimal":
                precision, scale = int(node["precision"]), int(node["scale"])
                found.append((scale, precision - scale))
            walk(node.get("type"))
            walk(node.get("items"))
            walk(node.get("values"))
            for field in node.get("fields", ()):
                walk(field)

    walk(schema)
    return (min(f for f, _ in found), min(i for _, i in found)) if found else UNBOUNDED


def stored_canonical_form(
    stored_topic: str, originator_id: UUID, originator_version: int, state: bytes
) -> dict[str, Any] | None:
    """`canonical_form(published_record(event))` of the stored event, or None: decode it and ask that."""
    facts = _topic_facts(stored_topic)
    if facts is None:
        return None
    event_type, topic, bounds = facts
    try:
        stored = orjson.loads(state)
        if type(stored) is not dict:
            return None
        reader = _Reader(bounds)
        payload = {k: reader.value(v) for k, v in stored.items() if k not in UNPUBLISHED_ATTRIBUTES}
        recorded_at = reader.value(stored["timestamp"])
        actor_id = reader.value(stored.get("actor_id"))
        request_id = reader.value(stored.get("request_id"))
    except (_Other, KeyError, ValueError):  # ValueError: a time or date its decoder would refuse too
        return None
    if type(recorded_at) is not str or not recorded_at.endswith("Z"):
        return None  # a timestamp that is not a time: the general path says what is wrong
    aggregate_id = str(originator_id)
    return {
        "event_id": derived_id_text("event", aggregate_id, str(originator_version)),
        "event_type": event_type,
        "topic": topic,
        "aggregate_id": aggregate_id,
        "aggregate_version": originator_version,
        "recorded_at": recorded_at,
        "actor_id": actor_id,
        "request_id": request_id,
        "payload": payload,
    }


class _Reader:
    __slots__ = ("fraction_digits", "integer_digits")

    def __init__(self, bounds: Bounds) -> None:
        self.fraction_digits, self.integer_digits = bounds

    def value(self, value: Any) -> Any:
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            return value
        if kind is list:
            return [self.value(v) for v in value]
        if kind is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self.tagged(value["_type_"], value["_data_"])
            return {k: self.value(v) for k, v in value.items()}
        raise _Other  # a float, or whatever else orjson might give

    def tagged(self, tag: Any, data: Any) -> str:
        if type(data) is not str:
            raise _Other
        if tag == "decimal_str":
            return self.decimal(data)
        if tag == "datetime_iso":
            return _utc_time(data)
        if tag == "uuid_hex":  # `UUID(data)` as text: 32 hex digits (fromhex would skip spaces: length says)
            if len(data) != 32 or len(bytes.fromhex(data)) != 16:
                raise _Other
            x = data.lower()
            return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"
        if tag == "date_iso":
            return date.fromisoformat(data).isoformat()
        raise _Other

    def decimal(self, text: str) -> str:
        """`str(value)` in plain notation, within every decimal of the contract: the canonical text is the
        stored text itself (what `Decimal(text)` keeps: its digits and exponent)."""
        unsigned = text[1:] if text[:1] == "-" else text
        whole, _, fraction = unsigned.partition(".")
        if not (
            unsigned.isascii()
            and whole.isdigit()
            and (fraction.isdigit() or (not fraction and "." not in unsigned))
        ):
            raise _Other  # an exponent, NaN, Infinity, a sign or digits Decimal would write otherwise
        if len(whole) > 1 and whole[0] == "0":
            raise _Other  # leading zeros: Decimal drops them
        if len(fraction) > self.fraction_digits or max(1, len(whole.lstrip("0"))) > self.integer_digits:
            raise _Other  # might not fit its field: published_record would round it
        return text


# exactly what `isoformat()` writes for a UTC time (the parse below also accepts other ISO spellings)
_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00", re.ASCII)


def _utc_time(text: str) -> str:
    """`datetime.isoformat()` of a UTC time as canonical text (`…T10:00:00.000000Z`)."""
    if _ISO_UTC.fullmatch(text) is None or text[0] == "0":
        raise _Other  # another spelling or zone (converted by the general path), or a year before 1000
    datetime.fromisoformat(text)  # a real time (the library's decoder refuses 2026-13-45 too)
    return text[:-6] + "Z" if len(text) == 32 else text[:-6] + ".000000Z"
