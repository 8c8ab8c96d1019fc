"""RFQs in flight: with the dealers answering after `venue_quote_delay_seconds`, orders of different
investors wait for their quotes at the same time (bounded), not one after another in the follower loop."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.integration.test_trading import filled, place


def test_orders_of_different_investors_wait_for_their_quotes_at_once(
    client: TestClient, container: Container
) -> None:
    venue: Any = container.trading.venue
    venue.quote_delay = 0.4
    asking, most = 0, 0
    lock = threading.Lock()
    request_quotes = venue.request_quotes

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal asking, most
        with lock:
            asking += 1
            most = max(most, asking)
        try:
            return request_quotes(*args, **kwargs)
        finally:
            with lock:
                asking -= 1

    venue.request_quotes = counting
    investors = [bearer(container, sub=f"inflight-{i}", funds=Decimal(100_000)) for i in range(4)]
    placed = [place(client, headers, qty="2", limit_clean_price="103.00") for headers in investors]
    assert all(p.status_code == 202 for p in placed), [p.text for p in placed]
    container.start_followers(["execution"])  # all four accepted orders reach the worker in one batch
    for headers, answer in zip(investors, placed, strict=True):
        order = filled(client, headers, answer.json()["data"]["order_id"])
        assert order["status"] == "FILLED", order
    assert most >= 2, "the RFQs waited for their quotes one after another"
