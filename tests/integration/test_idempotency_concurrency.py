"""Concurrent requests with one Idempotency-Key make exactly one order, whatever the interleaving."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from eventsourcing.persistence import IntegrityError
from fastapi.testclient import TestClient

from bondflow.wiring.container import Container
from tests.conftest import bearer

pytestmark = pytest.mark.integration

BODY = {"isin": "INE123A07043", "side": "BUY", "qty": "3.5", "limit_clean_price": "100"}


def test_concurrent_requests_with_one_key_create_exactly_one_order(
    client: TestClient, investor: dict[str, str], container: Container
) -> None:
    threads = 12
    barrier = threading.Barrier(threads)
    statuses: list[int] = []
    bodies: list[dict[str, object]] = []
    lock = threading.Lock()

    def send() -> None:
        barrier.wait()
        response = client.post("/v1/orders", json=BODY, headers={**investor, "Idempotency-Key": "race-1"})
        with lock:
            statuses.append(response.status_code)
            bodies.append(response.json())

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    counts = Counter(statuses)
    assert counts[202] == 1, counts
    assert counts[409] == threads - 1, counts
    codes = {b["error"]["code"] if b["error"] else "ok" for b in bodies}  # type: ignore[index]
    assert codes <= {"ok", "BF-IDEM-003"}
    order_ids = {b["data"]["order_id"] for b in bodies if b["data"]}  # type: ignore[index]
    assert len(order_ids) == 1
    notifications = container.store.recorder.select_notifications(start=1, limit=100)
    placed = [n for n in notifications if n.topic.endswith("Order.OrderPlaced")]
    reserved = [n for n in notifications if n.topic.endswith("EscrowAccount.FundsReserved")]
    assert len(placed) == len(reserved) == 1


def test_a_key_in_progress_is_answered_409_bf_idem_003_with_retry_after(
    client: TestClient, investor: dict[str, str], container: Container
) -> None:
    guard = container.trading.orders.guard
    with guard.hold("orders", "investor-1", "slow-key"):
        response = client.post("/v1/orders", json=BODY, headers={**investor, "Idempotency-Key": "slow-key"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "BF-IDEM-003"
    assert response.headers["Retry-After"] == "1"
    after = client.post("/v1/orders", json=BODY, headers={**investor, "Idempotency-Key": "slow-key"})
    assert after.status_code == 202


def test_one_investors_concurrent_orders_take_turns_on_the_account_instead_of_colliding(
    client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16 orders at once from one investor, each its own key (under the 20 a minute limit): every one is
    accepted, and none of their saves collides on the escrow account: this process's threads queue."""
    container.stop_followers()  # nothing else writes the account meanwhile
    investor = bearer(container, sub="many-at-once")
    store = container.trading.orders.store
    save = store.save_and_position
    collisions: list[str] = []

    def counted(*aggregates: object) -> int:
        try:
            return save(*aggregates)
        except IntegrityError:
            collisions.append("escrow")
            raise

    monkeypatch.setattr(store, "save_and_position", counted)
    threads = 16
    barrier = threading.Barrier(threads)
    statuses: list[int] = []

    def send(n: int) -> None:
        barrier.wait()
        body = {**BODY, "qty": "1"}
        response = client.post("/v1/orders", json=body, headers={**investor, "Idempotency-Key": f"turn-{n}"})
        statuses.append(response.status_code)

    workers = [threading.Thread(target=send, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert Counter(statuses) == {202: threads}
    assert collisions == []
    assert len(container.trading.orders.escrow.load("many-at-once").reservations) == threads
