"""The dealers' records the execution advisor ranks by: published from ClickHouse (`fill_analytics`) into
PostgreSQL by the `dealer_records` timer, so the execution worker can run outside the one process that may
open the embedded ClickHouse; `serve` puts it in its worker process."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from bondflow.runtime.followers import wait_for_position
from bondflow.runtime.processes import split_followers
from bondflow.wiring.container import Container
from bondflow.workers.advisor import RecordBasedAdvisor
from projections.analytics.dealer_records import published_records
from projections.analytics.fill_analytics import dealer_records
from tests.conftest import bearer

pytestmark = pytest.mark.integration

ISIN = "INE123A07043"


def buy(client: TestClient, headers: dict[str, str], qty: str, limit: str) -> str:
    placed = client.post(
        "/v1/orders",
        json={"isin": ISIN, "side": "BUY", "qty": qty, "limit_clean_price": limit},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 202, placed.text
    return str(placed.json()["data"]["order_id"])


def caught_up(container: Container, name: str) -> None:
    head = container.store.head_position()
    assert wait_for_position(container.followers[name].follower.position, head, timeout=30), name


def test_the_published_records_are_clickhouses_and_rank_the_dealers_the_same(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(1_000_000))
    buy(client, alice, "20", "102.00")  # fills
    buy(client, alice, "5", "96.50")  # every dealer quotes above this: RFQs without fills
    caught_up(container, "execution")
    caught_up(container, "fill_analytics")
    publisher = container.trading.dealer_records
    source = dealer_records(container.clickhouse, ISIN)
    assert sum(r.rfqs for r in source.values()) == 6 and sum(r.fills for r in source.values()) >= 1

    assert publisher.tick() == len(source)
    published = published_records(container.db, ISIN)
    assert published == source  # every dealer's RFQs, fills and average improvement, exactly
    assert published_records(container.db, "IN0020240019") == {}  # no RFQs for the other bond

    dealers = container.trading.venue.dealers
    ranked = [
        RecordBasedAdvisor(lambda _isin, r=records: r)
        .advise(ISIN, "BUY", dealers, Decimal("101.25"), Decimal(5))
        .dealers
        for records in (source, published)
    ]
    assert ranked[0] == ranked[1]

    before = publisher.published
    assert publisher.tick() == 0 and publisher.published == before  # unchanged: not written again


def test_the_timer_publishes_under_its_runner_and_serve_runs_execution_in_the_worker(
    client: TestClient, container: Container
) -> None:
    here, there = split_followers(container.followers)
    assert "dealer_records" in here and "fill_analytics" in here  # where ClickHouse can be read
    assert "execution" in there  # the RFQs do not share the API's interpreter
    assert "dealer_records" in container.running  # the fixture starts every timer

    container.start_followers(["execution"])
    buy(client, bearer(container, sub="bob", funds=Decimal(1_000_000)), "10", "102.00")
    caught_up(container, "fill_analytics")
    deadline = time.monotonic() + 2 * container.trading.dealer_records.tick_seconds + 10  # its next tick
    while not published_records(container.db, ISIN) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert published_records(container.db, ISIN) == dealer_records(container.clickhouse, ISIN)
