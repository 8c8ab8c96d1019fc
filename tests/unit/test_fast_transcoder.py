"""`FastJSONTranscoder` reads the stored JSON into exactly what the library's decoder reads: the same values
of the same types, nested the same way, for anything the library's encoder can write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import JSONTranscoder, Transcoding
from hypothesis import example, given
from hypothesis import strategies as st

from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.transcoder import DateAsISO, FastJSONTranscoder


@dataclass(frozen=True)
class Tenor:
    """A value of our own with its own transcoding (revived by its `decode`, not a constructor)."""

    days: int


class TenorAsDays(Transcoding):
    type = Tenor
    name = "tenor_days"

    def encode(self, obj: Tenor) -> int:
        return obj.days

    def decode(self, data: int) -> Tenor:
        return Tenor(data)


def transcoders() -> tuple[JSONTranscoder, FastJSONTranscoder]:
    library, fast = JSONTranscoder(), FastJSONTranscoder()
    for transcoder in (library, fast):
        EventStore.register_transcodings(EventStore.__new__(EventStore), transcoder)
        transcoder.register(TenorAsDays())
    return library, fast


def shape(value: Any) -> Any:
    """The value with every leaf's exact type and text: Decimal('1.50') is not Decimal('1.5') here."""
    if isinstance(value, dict):
        return ("dict", [(k, shape(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [shape(v) for v in value])
    return (type(value).__name__, repr(value))


zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-3))])
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # beyond 64 bits the library's decoder reads it
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.characters(exclude_categories=["Cs"])),  # lone surrogates cannot be stored
    st.decimals(allow_nan=False, allow_infinity=False, places=None),
    st.datetimes(timezones=zones),
    st.dates(),
    st.uuids(),
    st.integers(min_value=0, max_value=10_000).map(Tenor),
)
keys = st.one_of(st.text(max_size=8), st.sampled_from(["_type_", "_data_", "qty", "at"]))
values = st.recursive(
    leaves,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=20,
)


@given(st.dictionaries(keys, values, max_size=6))
@example({"big": 2**64, "small": -(2**63) - 1, "in_text": "12345678901234567890", "x": Decimal("1.50")})
@example({"_type_": None, "_data_": None})
def test_it_reads_what_the_library_reads(state: dict[str, Any]) -> None:
    library, fast = transcoders()
    stored = library.encode(state)
    try:
        expected = shape(library.decode(stored))
    except Exception as refused:  # a tagged pair the library cannot read back: refused the same way
        with pytest.raises(type(refused)):
            fast.decode(stored)
        return
    assert shape(fast.decode(stored)) == expected


def test_tagged_values_inside_tagged_values_are_revived_bottom_up_and_unknown_tags_refused() -> None:
    library, fast = transcoders()
    stored = library.encode({"legs": [{"at": datetime(2026, 12, 3, 9, tzinfo=UTC)}], "on": date(2026, 12, 4)})
    decoded = fast.decode(stored)
    assert decoded == {"legs": [{"at": datetime(2026, 12, 3, 9, tzinfo=UTC)}], "on": date(2026, 12, 4)}
    assert shape(decoded) == shape(library.decode(stored))
    plain_pair = b'{"x":{"_type_":"decimal_str","_data_":"1.50"},"y":{"_type_":1,"_data_":2,"z":3}}'
    assert shape(fast.decode(plain_pair)) == shape(library.decode(plain_pair))
    assert fast.decode(plain_pair)["x"] == Decimal("1.50")
    unknown = b'{"x":{"_type_":"no_such_type","_data_":"?"}}'
    for transcoder in (library, fast):
        try:
            transcoder.decode(unknown)
        except TypeError as refused:
            assert "no_such_type" in str(refused)
        else:
            raise AssertionError("an unknown tag was read")


def test_registered_revivers_are_constructors_for_the_common_types() -> None:
    _, fast = transcoders()
    revivers = fast._revivers
    assert revivers["decimal_str"] is Decimal and revivers["uuid_hex"] is UUID
    assert revivers[DateAsISO.name] == date.fromisoformat
    assert revivers["tenor_days"].__self__.__class__ is TenorAsDays  # type: ignore[attr-defined]
