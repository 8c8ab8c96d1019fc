"""Live updates: an investor following `/v1/events` (server-sent events) or `/v1/ws` sees their own order go
PENDING → FILLED with its fill and settlement states and escrow changes; another investor sees none of it;
resuming with `Last-Event-ID` misses nothing and repeats nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.integration.test_settlement import buy, caught_up, order_in

pytestmark = pytest.mark.integration

SSE = {"Accept": "text/event-stream"}


def sse(client: TestClient, headers: dict[str, str], limit: int, **extra: str) -> list[dict[str, Any]]:
    """Read `limit` server-sent events: [{id, event, data}]."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    with client.stream(
        "GET", "/v1/events", params={"limit": limit}, headers={**headers, **SSE, **extra}
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if not line:
                if current:
                    events.append(current)
                    current = {}
                continue
            field, _, value = line.partition(": ")
            if field in {"id", "event", "data"}:
                current[field] = value
    return events


def page(client: TestClient, headers: dict[str, str], after: int = 0) -> list[dict[str, Any]]:
    answer = client.get("/v1/events", params={"after": after, "limit": 1000}, headers=headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


@pytest.fixture
def filled_order(client: TestClient, container: Container) -> tuple[dict[str, str], str]:
    container.start_followers(["execution"])
    headers = bearer(container, sub="live-investor")
    order_id = buy(client, headers, qty="5")
    order_in(client, headers, order_id, "FILLED")
    caught_up(container, "user_feed")
    return headers, order_id


def test_an_investor_sees_their_order_go_pending_then_filled_with_its_settlement(
    client: TestClient, filled_order: tuple[dict[str, str], str]
) -> None:
    headers, order_id = filled_order
    updates = page(client, headers)
    orders = [u["data"] for u in updates if u["event"] == "order" and u["data"]["id"] == order_id]
    assert [o["status"] for o in orders if "status" in o][:2] == ["NEW", "PENDING"]
    assert orders[-1]["event"] == "SettlementRecorded"
    assert orders[-1]["status"] == "FILLED"
    fills = [u["data"] for u in updates if u["event"] == "fill"]
    assert fills and all(f["id"] == order_id for f in fills)
    steps = [u["data"]["event"] for u in updates if u["event"] == "settlement"]
    assert steps[0] == "Started"
    assert steps[-1] == "Completed"
    assert any(u["event"] == "escrow" and u["data"]["event"] == "FundsReserved" for u in updates)
    positions = [u["id"] for u in updates]
    assert positions == sorted(positions)


def test_the_stream_carries_the_same_updates_as_server_sent_events(
    client: TestClient, filled_order: tuple[dict[str, str], str]
) -> None:
    headers, _ = filled_order
    expected = page(client, headers)
    streamed = sse(client, headers, limit=len(expected))
    assert [int(e["id"]) for e in streamed] == [u["id"] for u in expected]
    assert [e["event"] for e in streamed] == [u["event"] for u in expected]


def test_another_investor_sees_nothing_of_it(
    client: TestClient, container: Container, filled_order: tuple[dict[str, str], str]
) -> None:
    stranger = bearer(container, sub="live-stranger")
    seen = page(client, stranger)
    assert {u["event"] for u in seen} <= {"escrow"}  # only the stranger's own funding
    _, order_id = filled_order
    assert all(order_id not in str(u["data"]) for u in seen)


def test_reconnecting_with_last_event_id_misses_nothing_and_repeats_nothing(
    client: TestClient, filled_order: tuple[dict[str, str], str]
) -> None:
    headers, _ = filled_order
    everything = [u["id"] for u in page(client, headers)]
    first = sse(client, headers, limit=3)
    rest = sse(client, headers, limit=len(everything) - 3, **{"Last-Event-ID": first[-1]["id"]})
    assert [int(e["id"]) for e in first + rest] == everything


def test_the_websocket_sends_the_same_updates(
    client: TestClient, filled_order: tuple[dict[str, str], str]
) -> None:
    headers, _ = filled_order
    expected = page(client, headers)
    token = headers["Authorization"].removeprefix("Bearer ")
    with client.websocket_connect(f"/v1/ws?access_token={token}&last_event_id=0") as socket:
        received = [socket.receive_json() for _ in expected]
    assert [m["id"] for m in received] == [u["id"] for u in expected]


def test_live_updates_need_a_valid_token(client: TestClient) -> None:
    assert client.get("/v1/events", headers=SSE).status_code == 401
    assert client.get("/v1/events", headers={"Authorization": "Bearer nope", **SSE}).status_code == 401
