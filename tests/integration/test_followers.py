"""Followers: exactly-once Postgres projection across a killed worker, failover by advisory lock,
and a ClickHouse projection that stays right when events are processed twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bondflow.domain.orders import Order
from bondflow.runtime.followers import FollowerRunner, Positioned, wait_for_position
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from projections.analytics import order_flow
from projections.orders.projector import OrdersProjector

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def idle_container(settings: Settings) -> Iterator[Container]:
    """The real container with no follower running, so a test decides who follows."""
    built = bootstrap(settings)
    yield built
    built.close()
    built.clickhouse.command("DROP DATABASE IF EXISTS {db}")


def write_orders(container: Container, count: int, *, cancel_every: int = 0) -> int:
    """Append `count` placed+accepted orders (and some cancels) straight to the store, in big transactions."""
    now = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    for start in range(0, count, 500):
        orders = []
        for i in range(start, min(count, start + 500)):
            order = Order(
                id=uuid.uuid4(),
                user_id=f"u{i % 7}",
                isin="INE123A07043",
                side="BUY" if i % 2 else "SELL",
                qty=Decimal("1.5"),
                limit_clean_price=Decimal("99.5"),
                placed_at=now,
                request_fingerprint="f",
                actor_id="t",
                request_id="r",
            )
            order.accept(actor_id="t", request_id="r")
            if cancel_every and i % cancel_every == 0:
                order.cancel(reason="test", request_fingerprint=None, actor_id="t", request_id="r")
            orders.append(order)
        container.store.save(*orders)
    return container.store.head_position()


def start_worker(settings: Settings, tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BONDFLOW_DATABASE_URL": str(settings.database_url),
        "BONDFLOW_DATA_DIR": str(tmp_path / f"worker-{uuid.uuid4().hex[:6]}"),
        "BONDFLOW_CLICKHOUSE_DSN": f"chdb://{tmp_path / f'ch-{uuid.uuid4().hex[:6]}'}",
        "BONDFLOW_FOLLOWER_BATCH_SIZE": "40",
        "BONDFLOW_LOG_LEVEL": "WARNING",
    }
    with open(tmp_path / "worker.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bondflow.cli", "worker", name],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def orders_view_counts(container: Container) -> tuple[int, int]:
    with container.db.cursor() as cur:
        row = cur.execute("SELECT count(*), count(DISTINCT order_id) FROM orders_view").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_the_orders_projection_is_exactly_once_across_a_killed_worker_and_a_failover(
    idle_container: Container, settings: Settings, tmp_path: Path
) -> None:
    orders = 3000
    head = write_orders(idle_container, orders, cancel_every=10)
    projector = OrdersProjector(idle_container.db)
    projector.setup()

    first = start_worker(settings, tmp_path, "orders_view")
    try:
        assert wait_for_position(projector.position, 1, timeout=60), "worker never started projecting"
        first.send_signal(signal.SIGKILL)  # a crash, mid-flight
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = projector.position()
    assert 0 < killed_at < head, f"worker was not killed mid-way (position {killed_at} of {head})"

    # Two copies now: a worker process and an in-process runner. Only one leads at a time.
    second = start_worker(settings, tmp_path, "orders_view")
    standby = FollowerRunner(OrdersProjector(idle_container.db), idle_container.store, idle_container.db)
    try:
        assert wait_for_position(projector.position, killed_at + 1, timeout=60)
        standby.start()
        time.sleep(1.5)
        assert not standby.is_leader.is_set(), "a second copy became active while the first leads"
        second.send_signal(signal.SIGKILL)
        second.wait(10)
        assert standby.is_leader.wait(30), "the standby did not take over after the leader died"
        assert wait_for_position(projector.position, head, timeout=60), "the standby did not finish the log"
    finally:
        standby.stop()
        if second.poll() is None:
            second.kill()

    assert orders_view_counts(idle_container) == (orders, orders)
    with idle_container.db.cursor() as cur:
        statuses = dict(cur.execute("SELECT status, count(*) FROM orders_view GROUP BY status").fetchall())
    assert statuses == {"CANCELLED": orders // 10, "PENDING": orders - orders // 10}


def test_order_flow_counts_are_unchanged_when_every_event_is_processed_again(
    idle_container: Container,
) -> None:
    head = write_orders(idle_container, 600, cancel_every=4)
    projector = order_flow.OrderFlowProjector(idle_container.clickhouse)
    projector.setup()
    notifications = idle_container.store.recorder.select_notifications(start=1, limit=head)
    batch = [
        Positioned(idle_container.store.mapper.to_domain_event(n), n.id)
        for n in notifications
        if n.topic in projector.topics
    ]
    for chunk in range(0, len(batch), 250):
        projector.process(batch[chunk : chunk + 250], batch[min(chunk + 250, len(batch)) - 1].position)
    first = order_flow.order_flow(idle_container.clickhouse, isin=None, start=None, end=None)
    projector.process(batch, head)  # a crash before the checkpoint means everything comes again
    projector.process(batch[:100], head)
    second = order_flow.order_flow(idle_container.clickhouse, isin=None, start=None, end=None)
    assert first == second
    assert sum(r.orders for r in second) == 600
    assert sum(r.cancelled for r in second) == 150
    assert sum(r.qty for r in second) == Decimal("900")
    assert projector.position() == head


def test_the_order_flow_endpoint_reads_clickhouse_per_isin_side_and_day(
    client: object, container: Container
) -> None:
    from fastapi.testclient import TestClient

    from tests.conftest import bearer

    assert isinstance(client, TestClient)
    headers = bearer(container)
    last = None
    for i, side in enumerate(["BUY", "BUY", "SELL"]):
        body = {"isin": "INE123A07043", "side": side, "qty": str(i + 1)}
        last = client.post("/v1/orders", json=body, headers={**headers, "Idempotency-Key": f"f{i}"}).json()
    assert last is not None and last["error"]["code"] == "BF-ORD-007"  # a SELL without holdings is refused
    response = client.get(
        "/v1/analytics/order-flow",
        params={"isin": "INE123A07043", "min_position": container.store.head_position()},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    rows = {r["side"]: r for r in response.json()["data"]}
    assert rows["BUY"]["orders"] == 2
    assert rows["BUY"]["qty"] == "3.000000"
    assert rows["BUY"]["accepted"] == 2
    assert rows["SELL"]["qty"] == "3.000000"
    assert (rows["SELL"]["accepted"], rows["SELL"]["rejected"]) == (0, 1)
    empty = client.get(
        "/v1/analytics/order-flow", params={"from": "2000-01-01", "to": "2000-01-02"}, headers=headers
    )
    assert empty.json()["data"] == []
