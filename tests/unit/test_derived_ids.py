"""The text form of a derived id is exactly the standard library's UUIDv5 (RFC 4122), for any inputs."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from bondflow.domain.ids import BONDFLOW_NAMESPACE, derived_id, derived_id_text


@given(st.text(), st.lists(st.text(), max_size=4))
def test_the_text_form_is_the_uuid5_of_the_natural_key(kind: str, parts: list[str]) -> None:
    text = derived_id_text(kind, *parts)
    assert text == str(derived_id(kind, *parts))
    assert text == str(uuid.uuid5(BONDFLOW_NAMESPACE, "\x1f".join((kind, *parts))))
    assert uuid.UUID(text).version == 5


def test_an_event_id_is_stable() -> None:  # the published ids of every stored event depend on it
    assert derived_id_text("event", "6f1d3c7e-2b9a-5e4f-9c1d-0b5a7e3f2d10", "1") == str(
        uuid.uuid5(BONDFLOW_NAMESPACE, "event\x1f6f1d3c7e-2b9a-5e4f-9c1d-0b5a7e3f2d10\x1f1")
    )
