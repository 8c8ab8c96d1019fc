"""`stored_canonical_form` reads a stored event's canonical form from its stored JSON: the same form as
`canonical_form(published_record(event))` of the decoded event, or None (then the rebuild decodes it),
never a different one. Stored documents here are written by the library's own encoder."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.persistence import Mapper
from eventsourcing.utils import get_topic
from hypothesis import example, given
from hypothesis import strategies as st

from bondflow.audit.canonical import canonical_form
from bondflow.avro.publication import published_record
from bondflow.avro.stored_publication import stored_canonical_form
from bondflow.domain.kyc import KycCase
from bondflow.domain.orders import Order
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.transcoder import FastJSONTranscoder
from bondflow.wiring.replay_lanes import uuid_of

PLACED = get_topic(Order.OrderPlaced)  # decimals (qty, limit) at their contract's scale
STARTED = get_topic(KycCase.Started)


class Stored(NamedTuple):
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def _mapper() -> Mapper[UUID]:
    transcoder = FastJSONTranscoder()
    EventStore.register_transcodings(EventStore.__new__(EventStore), transcoder)
    return Mapper(transcoder=transcoder)


MAPPER = _mapper()


def general_path(stored: Stored) -> Any:
    """The form the decoded event gives, or the exception that path raises."""
    try:
        return canonical_form(published_record(MAPPER.to_domain_event(stored)))  # type: ignore[arg-type]
    except Exception as refused:
        return refused


def check(topic: str, state: dict[str, Any], version: int = 1) -> dict[str, Any] | None:
    stored = Stored(uuid.UUID(int=12345), version, topic, MAPPER.transcoder.encode(state))
    expected = general_path(stored)
    found = stored_canonical_form(stored.topic, stored.originator_id, stored.originator_version, stored.state)
    if found is not None:
        assert not isinstance(expected, Exception), expected
        assert found == expected
    return found


def placed(**fields: Any) -> dict[str, Any]:
    return {
        "timestamp": datetime(2026, 12, 3, 9, 30, 1, 250000, tzinfo=UTC),
        "actor_id": "investor-1",
        "request_id": "req-1",
        "user_id": "investor-1",
        "isin": "INE123A07043",
        "side": "BUY",
        "qty": Decimal("1.5"),
        "limit_clean_price": Decimal("101.25"),
        "placed_at": datetime(2026, 11, 25, 5, tzinfo=UTC),
        "request_fingerprint": "f",
        **fields,
    }


zones = st.sampled_from(
    [UTC, timezone(timedelta(0)), timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-3))]
)
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12, alphabet=st.characters(exclude_categories=["Cs"])),
    st.decimals(allow_nan=True, allow_infinity=True, places=None),
    st.decimals(min_value=-(10**12), max_value=10**12, places=2),
    st.datetimes(timezones=zones),
    st.dates(),
    st.uuids(),
)
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["a", "qty", "_type_", "_data_"]), children, max_size=3),
    ),
    max_leaves=12,
)
fields = st.sampled_from(
    ["qty", "limit_clean_price", "placed_at", "isin", "extra", "timestamp", "actor_id", "request_id"]
)


@given(st.dictionaries(fields, values, max_size=4), st.sampled_from([PLACED, STARTED]), st.integers(1, 3))
@example({}, PLACED, 1)
@example({"qty": Decimal("1.55555")}, PLACED, 1)  # more places than the contract: rounded by the general path
@example({"qty": Decimal("1E+2")}, PLACED, 1)
@example({"qty": Decimal("-0.00")}, PLACED, 1)
@example({"placed_at": datetime(999, 1, 1, tzinfo=UTC)}, PLACED, 1)
@example({"timestamp": datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=5, minutes=30)))}, PLACED, 2)
@example({"extra": 2**64}, PLACED, 1)
@example({"extra": {"_type_": "decimal_str", "_data_": "1.50"}}, PLACED, 1)
@example({"extra": {"_type_": "uuid_hex", "_data_": "ABCDEF0123456789ABCDEF0123456789"}}, PLACED, 1)
def test_it_gives_the_general_paths_form_or_none(overrides: dict[str, Any], topic: str, version: int) -> None:
    check(topic, placed(**overrides), version)


def test_current_events_are_read_from_their_text() -> None:
    """The ordinary case takes the fast path (else a rebuild would decode everything after all)."""
    form = check(PLACED, placed(extra=[date(2026, 12, 4), uuid.UUID(int=7), {"n": Decimal("0.05")}]))
    assert form is not None
    assert form["recorded_at"] == "2026-12-03T09:30:01.250000Z"
    assert form["payload"]["placed_at"] == "2026-11-25T05:00:00.000000Z"
    assert form["payload"]["extra"] == ["2026-12-04", str(uuid.UUID(int=7)), {"n": "0.05"}]
    assert form["event_type"] == "Order.OrderPlaced" and form["topic"] == "order.placed.v1"


def test_what_it_cannot_read_by_its_text_is_left_to_the_general_path() -> None:
    assert check(PLACED, placed(qty=Decimal("1.55555"))) is None  # the general path rounds it half-up
    assert check(PLACED, placed(qty=Decimal("123456789.5"))) is None  # more digits than the contract
    assert check(PLACED, placed(placed_at=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1))))) is None
    assert check(PLACED, placed(extra=1.5)) is None
    assert check(PLACED, placed(extra=2**64)) is None  # orjson reads it as a float
    assert check("bondflow.domain.never:Happened", placed()) is None
    assert check(PLACED, {k: v for k, v in placed().items() if k != "timestamp"}) is None


@given(st.uuids())
def test_ids_sent_to_a_rebuilds_other_process_come_back_as_the_same_uuids(value: UUID) -> None:
    built = uuid_of(value.bytes)
    assert (built, str(built), hash(built), built.version, built.is_safe) == (
        value,
        str(value),
        hash(value),
        value.version,
        UUID(bytes=value.bytes).is_safe,
    )
