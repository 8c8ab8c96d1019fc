"""The command kernel: one conflict policy (decide again on fresh state, 409 BF-CONFLICT-001 when it gives up)
and the loaders every handler uses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from bondflow.domain.orders import Order
from bondflow.errors import WriteConflict
from commands.kernel.conflicts import decide_and_save


def test_a_collision_is_decided_again_on_fresh_state() -> None:
    tries: list[int] = []

    def attempt() -> str:
        tries.append(len(tries))
        if len(tries) < 3:
            raise IntegrityError("duplicate key value violates unique constraint")
        return "saved"

    assert decide_and_save(attempt, what="the account") == "saved"
    assert len(tries) == 3


def test_giving_up_is_a_409_conflict_that_names_what_kept_changing() -> None:
    def attempt() -> None:
        raise IntegrityError("duplicate key")

    with pytest.raises(WriteConflict) as raised:
        decide_and_save(attempt, what="the settlement", details={"settlement_id": "s-1"}, attempts=3)
    assert raised.value.code == "BF-CONFLICT-001"
    assert raised.value.status == 409
    assert "the settlement is changing concurrently" in raised.value.message
    assert raised.value.details == {"settlement_id": "s-1"}


def test_other_errors_are_not_retried() -> None:
    tries: list[int] = []

    def attempt() -> None:
        tries.append(1)
        raise ValueError("a refusal")

    with pytest.raises(ValueError, match="a refusal"):
        decide_and_save(attempt, what="x")
    assert tries == [1]


def _order() -> Order:
    return Order(
        id=uuid4(),
        user_id="u-1",
        isin="INE000000001",
        side="BUY",
        qty=Decimal(10),
        limit_clean_price=None,
        placed_at=datetime(2026, 12, 1, tzinfo=UTC),
        request_fingerprint="f",
        actor_id="u-1",
        request_id="r-1",
    )


def test_the_placement_answer_is_found_by_its_own_version_not_by_an_event_count() -> None:
    accepted = _order()
    accepted.accept(actor_id="u-1", request_id="r-1")
    assert accepted.placement_version == accepted.version == 2
    accepted.cancel(reason="by investor", request_fingerprint=None, actor_id="u-1", request_id="r-2")
    assert accepted.placement_version == 2  # later events do not move it
    rejected = _order()
    rejected.reject(code="BF-ORD-001", reason="no", details={}, actor_id="u-1", request_id="r-1")
    assert rejected.placement_version == rejected.version == 2
    assert _order().placement_version is None  # not decided yet


def test_one_exact_body_parser_for_requests_and_webhooks() -> None:
    from bondflow.errors import InvalidRequest
    from commands.investors.kyc_requests import ProviderResult
    from commands.kernel.bodies import exact_json

    assert exact_json(b'{"amount": 100.10, "qty": 3}') == {"amount": Decimal("100.10"), "qty": 3}
    for raw, message in (
        (b'{"amount": NaN}', "body is not valid JSON"),
        (b'{"amount": Infinity}', "body is not valid JSON"),
        (b"[1, 2]", "body must be a JSON object"),
        (b"\xff", "body is not valid JSON"),
    ):
        with pytest.raises(InvalidRequest, match=message):
            exact_json(raw)
    # the KYC provider's webhook took NaN before it used the kernel's parser
    with pytest.raises(InvalidRequest, match="webhook body is not valid JSON"):
        ProviderResult.from_raw(b'{"event_id": "e", "process_token": "t", "status": "verified", "tier": NaN}')
