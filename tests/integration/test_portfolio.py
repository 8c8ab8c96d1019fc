"""Holdings valued server-side and the coupon calendar with TDS, fed by settled trades."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.domain.bonds import analyse
from bondflow.runtime.followers import wait_for_position
from bondflow.wiring.container import Container
from projections.instruments import queries as instruments_queries
from tests.conftest import bearer
from tests.integration.test_settlement import order_in

pytestmark = pytest.mark.integration


def caught_up(container: Container) -> None:
    head = container.store.head_position()
    for name in container.running:
        assert wait_for_position(container.followers[name].follower.position, head, timeout=30), name


def settled_buy(client: TestClient, container: Container, headers: dict[str, str], **order: Any) -> None:
    """Place a BUY and wait until it is FILLED (every fill settled) and every read model has caught up."""
    placed = client.post(
        "/v1/orders",
        json={"side": "BUY", **order},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["data"]["order_id"]
    order_in(client, headers, order_id, "FILLED")
    caught_up(container)


def test_holdings_show_the_bond_with_its_analytics_and_totals(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(1_000_000))
    for qty in ("10", "5"):
        settled_buy(client, container, alice, isin="INE123A07043", qty=qty, limit_clean_price="102")
    trades = client.get("/v1/trades", headers=alice).json()["data"]
    body = client.get("/v1/portfolio/holdings", headers=alice).json()["data"]
    (holding,) = body["holdings"]
    assert holding["qty"] == "15.000000"
    cost = sum(Decimal(t["qty"]) * Decimal(t["clean_price"]) for t in trades)
    assert Decimal(holding["avg_clean_price"]) == (cost / Decimal(15)).quantize(Decimal("0.0001"))
    bond = instruments_queries.get_instrument(container.db, "INE123A07043")
    calendar = instruments_queries.business_calendar(container.db)
    settlement = calendar.next_business_day(container.clock.now().date())
    exact = analyse(bond.terms, calendar, settlement, clean_price=bond.reference_clean_price)
    notional = Decimal(15) * bond.face_value / 100
    assert Decimal(holding["market_value"]) == (
        notional * (bond.reference_clean_price + exact.accrued_interest)
    ).quantize(Decimal("0.01"), ROUND_HALF_UP)  # money rounds half up, once, at the edge
    assert Decimal(holding["unrealized_pnl"]) == (
        notional * (bond.reference_clean_price - cost / 15)
    ).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert holding["ytm"] is not None and Decimal(holding["modified_duration"]) > 0
    assert body["totals"]["market_value"] == holding["market_value"]
    assert (
        client.get("/v1/portfolio/holdings", headers=bearer(container, sub="bob")).json()["data"]["holdings"]
        == []
    )


def test_coupons_list_the_next_year_with_tds(client: TestClient, container: Container) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(1_000_000))
    settled_buy(client, container, alice, isin="IN0020240019", qty="100", limit_clean_price="106")
    coupons = client.get("/v1/portfolio/coupons", headers=alice).json()["data"]
    # 7.18% GS 2034, semi-annual on 24 Jan and 24 Jul: 100 units of face 100 earn 359.00 gross each time
    assert [c["coupon_date"] for c in coupons] == ["2027-01-24", "2027-07-24"]
    assert coupons[0]["payment_date"] == "2027-01-25"  # 24 Jan 2027 is a Sunday: paid the next business day
    assert coupons[0]["record_date"] == "2027-01-10"  # counted back from the payment date, as pre-trade does
    # a G-sec: no TDS (DOMAIN.md), whatever the holder's category
    assert (coupons[0]["gross"], coupons[0]["tds"], coupons[0]["net"]) == ("359.00", "0.00", "359.00")
    assert (coupons[0]["status"], coupons[0]["tds_rule"]) == ("scheduled", "exempt_gsec")


def test_holdings_as_of_an_earlier_position_equal_what_the_api_answered_then(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(1_000_000))
    settled_buy(client, container, alice, isin="INE123A07043", qty="10", limit_clean_price="102")
    then_position = container.store.head_position()
    answered_then = client.get("/v1/portfolio/holdings", headers=alice).json()["data"]
    settled_buy(client, container, alice, isin="INE123A07043", qty="7", limit_clean_price="102")
    now = client.get("/v1/portfolio/holdings", headers=alice).json()["data"]
    assert now["holdings"][0]["qty"] == "17.000000"
    as_of = client.get("/v1/portfolio/holdings", params={"as_of": str(then_position)}, headers=alice)
    assert as_of.status_code == 200, as_of.text
    assert as_of.json()["data"] == answered_then
    assert as_of.json()["meta"]["as_of_position"] == then_position
    assert (
        client.get("/v1/portfolio/holdings", params={"as_of": "yesterday"}, headers=alice).status_code == 400
    )
    by_time = client.get("/v1/portfolio/holdings", params={"as_of": "2000-01-01T00:00:00Z"}, headers=alice)
    assert by_time.json()["data"]["holdings"] == []
