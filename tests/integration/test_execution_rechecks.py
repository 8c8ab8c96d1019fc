"""What can change between an order's acceptance and its execution: the day (and so the accrued interest),
the bond's state, the order's age, and the buckets its positions fall in. Real PostgreSQL, chDB, followers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.domain.ids import derived_id
from bondflow.domain.pretrade import Limits
from bondflow.domain.settlement_money import terms_of
from bondflow.runtime.clock import ManualClock
from bondflow.wiring.container import Container
from bondflow.wiring.seed import SEED_ACTOR
from commands.kernel.context import CommandContext
from commands.trading.orders import TradingRules
from tests.conftest import bearer
from tests.integration.test_settlement import eventually, order_in

pytestmark = pytest.mark.integration

ISIN = "INE123A07043"  # 8.75% annual SEBI bond maturing 15 Mar 2031, reference 101.25
FUNDS = Decimal(1_000_000)


def buy(client: TestClient, headers: dict[str, str], key: str | None = None, **body: Any) -> Any:
    payload = {"isin": ISIN, "side": "BUY", "qty": "10", "limit_clean_price": "102", **body}
    response = client.post(
        "/v1/orders", json=payload, headers={**headers, "Idempotency-Key": key or uuid.uuid4().hex}
    )
    assert response.status_code == 202, response.text
    return response.json()["data"]


def escrow(client: TestClient, headers: dict[str, str]) -> dict[str, Decimal]:
    data = client.get("/v1/escrow/balance", headers=headers).json()["data"]
    return {name: Decimal(data[name]) for name in ("available", "reserved")}


def test_an_order_placed_before_midnight_and_executed_after_costs_no_more_than_it_reserved(
    client: TestClient, container: Container, clock: ManualClock
) -> None:
    clock.advance(timedelta(hours=13, minutes=29))  # Wednesday 23:59 in India: settles Thursday
    investor, key = "night-owl", uuid.uuid4().hex
    headers = bearer(container, sub=investor, funds=FUNDS)
    # the best dealer's quote for this very RFQ, as the limit: the fill is at the order's price cap
    rfq_id = str(derived_id("rfq", str(derived_id("order", investor, key))))
    venue = container.trading.venue
    quotes = venue.request_quotes(rfq_id, ISIN, "BUY", Decimal(100), Decimal("101.25"), list(venue.dealers))
    limit = min(q.clean_price for q in quotes)
    placed = buy(client, headers, key, qty="100", limit_clean_price=str(limit))
    clock.advance(timedelta(minutes=2))  # Thursday in India: it settles Friday, a day's more accrued
    container.start_followers(["execution"])

    trades = eventually(lambda: client.get("/v1/trades", headers=headers).json()["data"])
    paid = sum(Decimal(t["consideration"]) for t in trades)
    assert all(t["settlement_date"] == "2026-11-27" for t in trades)
    assert paid <= Decimal(placed["reserved"])
    order_in(client, headers, placed["order_id"], "FILLED")
    assert eventually(lambda: escrow(client, headers)["reserved"] == 0)
    stamp_duty = sum(
        terms_of("BUY", Decimal(t["consideration"]), Decimal(t["fees"])).stamp_duty for t in trades
    )
    assert escrow(client, headers)["available"] == FUNDS - paid - stamp_duty  # the buyer's stamp duty on top


def test_an_order_whose_bond_is_suspended_before_it_executes_is_cancelled_and_released(
    client: TestClient, container: Container
) -> None:
    headers = bearer(container, sub="suspended-buyer", funds=FUNDS)
    placed = buy(client, headers)
    container.instruments.suspend(ISIN, "issuer announcement", CommandContext(SEED_ACTOR, "test-suspend"))
    container.start_followers(["execution"])

    order = order_in(client, headers, placed["order_id"], "CANCELLED", "FILLED", "PARTIAL")
    assert order["status"] == "CANCELLED"
    assert any("BF-ORD-005" in reason for reason in order["reasons"]), order["reasons"]
    assert client.get("/v1/trades", headers=headers).json()["data"] == []
    assert eventually(lambda: escrow(client, headers) == {"available": FUNDS, "reserved": Decimal(0)})


def test_an_order_that_waited_past_its_life_is_cancelled_not_executed_at_a_later_days_accrued(
    client: TestClient, container: Container, clock: ManualClock
) -> None:
    headers = bearer(container, sub="late-buyer", funds=FUNDS)
    placed = buy(client, headers)
    clock.advance(timedelta(days=2))  # Friday: the order could execute Wednesday or Thursday only
    headers = bearer(container, sub="late-buyer")  # a fresh token: the first one has expired
    container.start_followers(["execution"])

    order = order_in(client, headers, placed["order_id"], "CANCELLED", "FILLED", "PARTIAL")
    assert order["status"] == "CANCELLED"
    assert any("expired" in reason for reason in order["reasons"]), order["reasons"]
    assert eventually(lambda: escrow(client, headers) == {"available": FUNDS, "reserved": Decimal(0)})


def test_a_position_counts_in_the_duration_bucket_of_its_remaining_life_not_of_its_first_buy(
    client: TestClient, container: Container, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = bearer(container, sub="long-holder", funds=FUNDS)
    buy(client, headers)  # Nov 2026: modified duration about 3.6 years, the 3-7y bucket (10,000 of face)
    clock.advance(datetime(2028, 6, 1, 5, 0, tzinfo=UTC) - clock.now())  # under 3 years left: 0-3y
    limits = Limits(
        per_duration_bucket={"0-3y": Decimal(15_000), "3-7y": Decimal(10**7), "7y+": Decimal(10**7)}
    )
    monkeypatch.setattr(container.trading.orders, "rules", TradingRules(limits=limits))
    headers = bearer(container, sub="long-holder")  # a fresh token: the first one has expired

    refused = client.post(
        "/v1/orders",
        json={"isin": ISIN, "side": "BUY", "qty": "10", "limit_clean_price": "102"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert refused.status_code == 403, refused.text
    details = refused.json()["error"]["details"]
    assert (details["limit"], details["current"]) == ("per_duration_bucket:0-3y", "10000.000000")
