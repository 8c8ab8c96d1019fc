"""The Order aggregate, told as given events → when a command → then events or an error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bondflow.domain.ids import derived_id
from bondflow.domain.orders import Order, OrderStatus
from bondflow.errors import Inconsistency, OrderNotCancellable


def placed_order() -> Order:
    return Order(
        id=derived_id("order", "alice", "key-1"),
        user_id="alice",
        isin="INE123A07043",
        side="BUY",
        qty=Decimal("10.5"),
        limit_clean_price=Decimal("99.75"),
        placed_at=datetime(2026, 11, 23, 10, tzinfo=UTC),
        request_fingerprint="fp",
        actor_id="alice",
        request_id="req-1",
    )


def test_a_placed_order_is_new_with_its_whole_quantity_remaining() -> None:
    order = placed_order()
    assert order.status is OrderStatus.NEW
    assert order.remaining_qty == Decimal("10.5")
    (event,) = order.collect_events()
    assert type(event).__qualname__ == "Order.OrderPlaced"
    assert event.actor_id == "alice"  # type: ignore[attr-defined]


def test_an_accepted_order_is_pending_and_can_be_cancelled() -> None:
    order = placed_order()
    order.accept(actor_id="alice", request_id="req-1")
    order.cancel(reason="changed my mind", request_fingerprint=None, actor_id="alice", request_id="req-2")
    names = [type(e).__name__ for e in order.collect_events()]
    assert names == ["OrderPlaced", "OrderAccepted", "OrderCancelled"]
    assert order.status is OrderStatus.CANCELLED
    assert order.reasons == ["changed my mind"]


@pytest.mark.parametrize("first", ["reject", "cancel"])
def test_a_rejected_or_cancelled_order_cannot_be_cancelled_again(first: str) -> None:
    order = placed_order()
    if first == "reject":
        order.reject(code="BF-ORD-006", reason="outside the band", details={}, actor_id="s", request_id="r")
    else:
        order.cancel(reason="x", request_fingerprint=None, actor_id="s", request_id="r")
    order.collect_events()
    with pytest.raises(OrderNotCancellable) as caught:
        order.cancel(reason="again", request_fingerprint=None, actor_id="s", request_id="r")
    assert caught.value.code == "BF-ORD-008"
    assert order.collect_events() == []


def test_derived_ids_are_stable_per_kind_user_and_key() -> None:
    assert derived_id("order", "alice", "k") == derived_id("order", "alice", "k")
    assert derived_id("order", "alice", "k") != derived_id("order", "bob", "k")
    assert derived_id("order", "alice", "k") != derived_id("deposit", "alice", "k")
    assert isinstance(derived_id("order", "a", "b"), uuid.UUID)


@pytest.mark.parametrize("qty", ["0", "-1", "10.6"])
def test_a_fill_that_does_not_fit_the_remainder_is_an_inconsistency_in_the_error_tree(qty: str) -> None:
    order = placed_order()
    order.accept(actor_id="alice", request_id="req-1")
    with pytest.raises(Inconsistency) as refused:
        order.record_fill(
            trade_id="t-1",
            dealer="D1",
            qty=Decimal(qty),
            clean_price=Decimal("99"),
            actor_id="x",
            request_id="r",
        )
    assert refused.value.code == "BF-INT-001" and refused.value.status == 500
    assert order.remaining_qty == Decimal("10.5")
