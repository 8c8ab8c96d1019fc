"""Live updates: an investor following `/v1/events` (server-sent events) or `/v1/ws` sees their own order go
PENDING → FILLED with its fill and settlement states and escrow changes; another investor sees none of it;
resuming with `Last-Event-ID` misses nothing and repeats nothing; streams wake on the projector's NOTIFY;
the bound on open streams per user holds across API processes."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bondflow.errors import RateLimited
from bondflow.wiring.container import Container
from projections.live import routes as live_routes
from projections.live.stream_leases import StreamLeases
from projections.live.wakeups import FEED_CHANNEL, announce
from tests.conftest import bearer
from tests.integration.test_settlement import buy, caught_up, eventually, order_in

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


def test_a_stream_wakes_on_its_users_new_update_without_polling(
    client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the fallback read pushed out to a minute, only the projector's NOTIFY can bring the update."""
    monkeypatch.setattr(live_routes, "FALLBACK_READ_SECONDS", 60.0)
    headers = bearer(container, sub="live-waker")
    caught_up(container, "user_feed")
    last = page(client, headers)[-1]["id"]
    token = headers["Authorization"].removeprefix("Bearer ")
    received: list[tuple[float, dict[str, Any]]] = []
    with client.websocket_connect(f"/v1/ws?access_token={token}&last_event_id={last}") as socket:
        reader = threading.Thread(target=lambda: received.append((time.monotonic(), socket.receive_json())))
        reader.start()
        time.sleep(0.5)  # the stream has read once and found nothing: it waits
        placed_at = time.monotonic()
        order_id = buy(client, headers, qty="1")
        reader.join(10)
        assert received, "no update reached the waiting stream within 10 s"
        arrived_at, update = received[0]
        assert update["id"] > last
        assert update["data"]["id"] == order_id or update["data"]["event"] == "FundsReserved"
        assert arrived_at - placed_at < 5.0
        socket.close()


def test_the_stream_bound_per_user_holds_across_api_processes(container: Container) -> None:
    """Two API processes share nothing but the database: two lease keepers on it share one bound."""
    key = container.settings.master_key.get_secret_value().encode()
    here, there = StreamLeases(container.db, key, 3), StreamLeases(container.db, key, 3)
    taken = [here.acquire("bounded-user"), there.acquire("bounded-user"), here.acquire("bounded-user")]
    with pytest.raises(RateLimited):
        there.acquire("bounded-user")
    there.acquire("someone-else")  # the bound is per user
    here.release(taken[0])
    taken[0] = there.acquire("bounded-user")  # a closed stream frees its place, in any process
    with container.db.transaction() as cur:  # a process died holding one: its lease expires
        cur.execute(
            "UPDATE live_stream_leases SET expires_at = now() - interval '1 second' WHERE lease_id = %s",
            (taken[1],),
        )
    here.acquire("bounded-user")


def test_concurrent_opens_never_exceed_the_bound(container: Container) -> None:
    key = container.settings.master_key.get_secret_value().encode()
    keepers = [StreamLeases(container.db, key, 4) for _ in range(2)]
    outcomes: list[str] = []

    def open_one(i: int) -> None:
        try:
            keepers[i % 2].acquire("raced-user")
            outcomes.append("open")
        except RateLimited:
            outcomes.append("refused")

    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["open"] * 4 + ["refused"] * 8


def test_a_sixth_stream_is_refused_and_a_closed_one_frees_its_place(
    client: TestClient, container: Container
) -> None:
    headers = bearer(container, sub="live-greedy")
    token = headers["Authorization"].removeprefix("Bearer ")
    url = f"/v1/ws?access_token={token}"
    bound = container.settings.live_streams_per_user
    with contextlib.ExitStack() as open_streams:
        sockets = [open_streams.enter_context(client.websocket_connect(url)) for _ in range(bound)]
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect(url):
            pass
        assert refused.value.code == 4429
        over_sse = client.get("/v1/events", headers={**headers, **SSE})
        assert over_sse.status_code == 429
        assert over_sse.json()["error"]["code"] == "BF-RATE-001"
        sockets[0].close()

        def reopened() -> bool:
            try:
                with client.websocket_connect(url) as socket:
                    socket.close()
                return True
            except WebSocketDisconnect:
                return False

        eventually(reopened)


def test_the_projector_announces_every_user_of_a_batch_in_payloads_postgres_accepts(
    container: Container,
) -> None:
    users = [f"user-{i:05d}-{'x' * 60}" for i in range(400)]  # about 28 KB of user ids
    with container.db.dedicated_connection() as listener:
        listener.execute(f"LISTEN {FEED_CHANNEL}")
        with container.db.transaction() as cur:
            announce(cur, users)
        heard = [n.payload for n in listener.notifies(timeout=2.0)]
    assert len(heard) > 1
    assert all(len(p.encode()) < 8000 for p in heard)
    assert sorted(u for p in heard for u in p.split("\n")) == sorted(users)
