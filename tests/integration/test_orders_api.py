"""Placing, replaying, cancelling and reading orders through the HTTP API, on real PostgreSQL and chDB."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.domain.orders import Order
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer, ledger_posted
from tests.integration.test_followers import write_orders

pytestmark = pytest.mark.integration

ISIN = "INE123A07043"
BODY = {"isin": ISIN, "side": "BUY", "qty": "10", "limit_clean_price": "99.75"}


def place(client: TestClient, headers: dict[str, str], body: Any = None, key: str | None = None) -> Any:
    key = key or uuid.uuid4().hex
    return client.post("/v1/orders", json=body or BODY, headers={**headers, "Idempotency-Key": key})


def test_an_order_is_accepted_and_read_back_with_exact_decimals(
    client: TestClient, investor: dict[str, str]
) -> None:
    placed = place(
        client, investor, {"isin": ISIN, "side": "BUY", "qty": 12.345678, "limit_clean_price": 101.1234}
    )
    assert placed.status_code == 202, placed.text
    data, meta = placed.json()["data"], placed.json()["meta"]
    assert data["status"] == "PENDING"
    assert meta["position"] >= 2
    read = client.get(
        f"/v1/orders/{data['order_id']}", params={"min_position": meta["position"]}, headers=investor
    )
    assert read.status_code == 200, read.text
    order = read.json()["data"]
    assert order["qty"] == "12.345678"
    assert order["limit_clean_price"] == "101.1234"
    assert order["remaining_qty"] == "12.345678"
    assert order["status"] == "PENDING"


def test_replaying_the_same_key_and_body_answers_409_with_the_original_data(
    client: TestClient, investor: dict[str, str], container: Container
) -> None:
    first = place(client, investor, key="same-key")
    ledger_posted(container)  # the journal entry of the reservation arrives after the order's events
    written = container.store.head_position()
    again = place(client, investor, key="same-key")
    assert first.status_code == 202
    assert again.status_code == 409
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["data"] == first.json()["data"]
    assert again.json()["meta"]["position"] == first.json()["meta"]["position"]
    ledger_posted(container)
    assert container.store.head_position() == written  # the replay wrote nothing


def test_reusing_a_key_with_another_body_answers_422(client: TestClient, investor: dict[str, str]) -> None:
    assert place(client, investor, key="k").status_code == 202
    other = place(client, investor, {**BODY, "qty": "11"}, key="k")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "BF-IDEM-002"


def test_the_same_key_from_two_investors_makes_two_orders(client: TestClient, container: Container) -> None:
    a = place(client, bearer(container, sub="alice"), key="shared")
    b = place(client, bearer(container, sub="bob"), key="shared")
    assert a.status_code == b.status_code == 202
    assert a.json()["data"]["order_id"] != b.json()["data"]["order_id"]


def test_an_order_without_idempotency_key_is_refused(client: TestClient, investor: dict[str, str]) -> None:
    response = client.post("/v1/orders", json=BODY, headers=investor)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BF-IDEM-001"


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "tab\tkey"])
def test_a_malformed_idempotency_key_is_refused(
    client: TestClient, investor: dict[str, str], key: str
) -> None:
    response = client.post("/v1/orders", json=BODY, headers={**investor, "Idempotency-Key": key})
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"BF-REQ-001", "BF-IDEM-001"}


def test_cancel_moves_a_pending_order_to_cancelled_and_a_second_cancel_is_refused(
    client: TestClient, investor: dict[str, str]
) -> None:
    order_id = place(client, investor).json()["data"]["order_id"]
    cancelled = client.post(f"/v1/orders/{order_id}/cancel", headers=investor)
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["data"]["status"] == "CANCELLED"
    position = cancelled.json()["meta"]["position"]
    read = client.get(f"/v1/orders/{order_id}", params={"min_position": position}, headers=investor).json()
    assert read["data"]["status"] == "CANCELLED"
    assert read["data"]["reasons"] == ["cancelled by investor"]
    again = client.post(f"/v1/orders/{order_id}/cancel", headers=investor)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "BF-ORD-008"


def test_a_cancel_retried_with_its_key_is_a_replay_not_an_error(
    client: TestClient, investor: dict[str, str]
) -> None:
    order_id = place(client, investor).json()["data"]["order_id"]
    headers = {**investor, "Idempotency-Key": "cancel-1"}
    first = client.post(f"/v1/orders/{order_id}/cancel", headers=headers)
    second = client.post(f"/v1/orders/{order_id}/cancel", headers=headers)
    assert first.status_code == 202
    assert second.status_code == 409
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["data"] == first.json()["data"]


def test_another_investors_order_is_not_found_for_read_or_cancel(
    client: TestClient, container: Container
) -> None:
    alice, bob = bearer(container, sub="alice"), bearer(container, sub="bob")
    placed = place(client, alice).json()
    order_id = placed["data"]["order_id"]
    position = placed["meta"]["position"]
    assert (
        client.get(f"/v1/orders/{order_id}", params={"min_position": position}, headers=bob).status_code
        == 404
    )
    assert client.post(f"/v1/orders/{order_id}/cancel", headers=bob).json()["error"]["code"] == "BF-NF-001"
    assert client.get("/v1/orders", params={"min_position": position}, headers=bob).json()["data"] == []


def test_ops_reads_every_order_but_cannot_place_one(client: TestClient, container: Container) -> None:
    placed = place(client, bearer(container, sub="alice")).json()
    ops = bearer(container, Role.OPS, "op-1")
    listing = client.get("/v1/orders", params={"min_position": placed["meta"]["position"]}, headers=ops)
    assert [o["order_id"] for o in listing.json()["data"]] == [placed["data"]["order_id"]]
    refused = place(client, ops)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "BF-AUTH-002"


def test_requests_without_a_valid_token_are_refused(client: TestClient, container: Container) -> None:
    assert client.get("/v1/orders").json()["error"]["code"] == "BF-AUTH-001"
    bad = client.get("/v1/orders", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401
    assert bad.headers["WWW-Authenticate"] == "Bearer"
    regulator = bearer(container, Role.REGULATOR)
    assert client.get("/v1/orders", headers=regulator).status_code == 403


def test_cursor_pagination_walks_every_order_once_in_order(
    client: TestClient, investor: dict[str, str]
) -> None:
    placed = [place(client, investor).json() for _ in range(7)]
    last_position = placed[-1]["meta"]["position"]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, "min_position": last_position}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/orders", params=params, headers=investor).json()
        seen.extend(o["order_id"] for o in page["data"])
        pages += 1
        cursor = page["meta"]["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [p["data"]["order_id"] for p in reversed(placed)]


def test_list_filters_by_status_and_isin_and_sorts_ascending(
    client: TestClient, investor: dict[str, str]
) -> None:
    first = place(client, investor).json()["data"]["order_id"]
    other_isin = place(client, investor, {**BODY, "isin": "IN0020240019"}).json()["data"]["order_id"]
    cancelled = client.post(f"/v1/orders/{first}/cancel", headers=investor).json()
    position = cancelled["meta"]["position"]
    by_status = client.get(
        "/v1/orders", params={"status": "CANCELLED", "min_position": position}, headers=investor
    )
    assert [o["order_id"] for o in by_status.json()["data"]] == [first]
    by_isin = client.get("/v1/orders", params={"isin": "IN0020240019"}, headers=investor)
    assert [o["order_id"] for o in by_isin.json()["data"]] == [other_isin]
    ascending = client.get("/v1/orders", params={"sort": "created_at"}, headers=investor).json()["data"]
    assert [o["order_id"] for o in ascending] == [first, other_isin]


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "qty"},
        {"sort": "-user_id"},
        {"status": "OPEN"},
        {"limit": 0},
        {"limit": 101},
        {"cursor": "garbage"},
        {"isin": "INE123A07045"},
        {"min_position": -1},
    ],
)
def test_list_refuses_unknown_sorts_filters_and_bad_cursors(
    client: TestClient, investor: dict[str, str], params: dict[str, Any]
) -> None:
    response = client.get("/v1/orders", params=params, headers=investor)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BF-REQ-001"


def test_order_events_record_actor_request_and_exact_decimals(
    client: TestClient, container: Container
) -> None:
    headers = {**bearer(container, sub="alice"), "X-Request-ID": "req-123"}
    # six places kept exactly (0.000001 alone is worth a tenth of a paisa: refused, money rounds half-up)
    placed = place(client, headers, {**BODY, "qty": "1.000001"}).json()
    order = container.store.repository.get(uuid.UUID(placed["data"]["order_id"]))
    assert isinstance(order, Order)
    events = list(container.store.events.get(order.id))
    assert [type(e).__name__ for e in events] == ["OrderPlaced", "OrderAccepted"]
    assert all(e.actor_id == "alice" and e.request_id == "req-123" for e in events)
    assert str(events[0].qty) == "1.000001"


def test_a_missing_order_is_404_in_the_envelope(client: TestClient, investor: dict[str, str]) -> None:
    response = client.get(f"/v1/orders/{uuid.uuid4()}", headers=investor)
    assert response.status_code == 404
    body = response.json()
    assert body["data"] is None
    assert body["error"]["code"] == "BF-NF-001"
    assert body["meta"]["request_id"].startswith("bf_")


def test_read_your_writes_times_out_with_503_when_the_position_is_never_reached(
    client: TestClient, investor: dict[str, str], container: Container
) -> None:
    container.settings.__dict__["query_wait_seconds"] = 0.2  # keep the test short
    container.followers["orders_view"].stop()  # the read model lags the log from now on
    head = write_orders(container, 1)  # an event it applies (a deposit would not keep it waiting)
    response = client.get("/v1/orders", params={"min_position": head}, headers=investor)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "BF-QRY-001"
