"""Trading over HTTP: a verified, funded investor buys a bond by RFQ and sees the trade; each pre-trade rule
refuses through the API with its code and an `OrderRejected` event; reservations are released, never leaked."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.domain.escrow import escrow_id
from bondflow.domain.orders import Order
from bondflow.domain.settlement_money import terms_of
from bondflow.runtime.followers import wait_for_position
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer

pytestmark = pytest.mark.integration

ISIN = "INE123A07043"  # AA+, reference 101.25, band ±5%: 96.1875 … 106.3125


def place(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    payload = {"isin": ISIN, "side": "BUY", "qty": "10", **body}
    return client.post("/v1/orders", json=payload, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})


def settle_followers(container: Container) -> None:
    head = container.store.head_position()
    for name in container.running:
        follower = container.followers[name].follower
        assert wait_for_position(follower.position, head, timeout=30), name


def balance(client: TestClient, headers: dict[str, str], container: Container) -> dict[str, str]:
    settle_followers(container)
    return client.get("/v1/escrow/balance", headers=headers).json()["data"]  # type: ignore[no-any-return]


def filled(client: TestClient, headers: dict[str, str], order_id: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        order = client.get(f"/v1/orders/{order_id}", headers=headers).json()["data"]
        if (order and order["status"] == "FILLED") or time.monotonic() > deadline:
            return order
        time.sleep(0.02)


def last_event_of(container: Container, order_id: str) -> Any:
    return list(container.store.events.get(uuid.UUID(order_id)))[-1]


def test_a_funded_investor_buys_by_rfq_and_sees_the_trade(client: TestClient, container: Container) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    placed = place(client, alice, qty="20", limit_clean_price="102.00")
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["data"]["order_id"]
    reserved = Decimal(placed.json()["data"]["reserved"])
    assert reserved > Decimal("20") * 1000 * Decimal("1.02")  # clean + accrued + fees
    order = filled(client, alice, order_id)  # FILLED once every fill has settled (the DvP settlement saga)
    assert order["filled_qty"] == "20.000000" and order["remaining_qty"] == "0.000000"
    assert order["routed_to"] and len(order["fills"]) >= 1
    trades = client.get("/v1/trades", headers=alice).json()["data"]
    assert sum(Decimal(t["qty"]) for t in trades) == Decimal(20)
    assert all(Decimal(t["clean_price"]) <= Decimal("102.00") for t in trades)
    money = balance(client, alice, container)
    # each fill's consideration (gross + fee) plus the buyer's stamp duty was debited at settlement
    debited = sum(
        terms_of("BUY", Decimal(t["consideration"]), Decimal(t["fees"])).investor_cash for t in trades
    )
    assert Decimal(money["reserved"]) == 0  # the fills were debited at settlement, the excess released
    assert Decimal(money["available"]) == Decimal(100_000) - debited
    others = client.get("/v1/trades", headers=bearer(container, sub="bob")).json()["data"]
    assert others == []
    fills = client.get("/v1/analytics/fills", params={"isin": ISIN}, headers=alice).json()["data"]
    assert sum(d["rfqs"] for d in fills["dealers"]) == 3


def test_an_ioc_order_without_acceptable_quotes_is_cancelled_and_releases_everything(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    placed = place(
        client, alice, qty="5", limit_clean_price="96.50"
    )  # every dealer offers above the reference
    order_id = placed.json()["data"]["order_id"]
    settle_followers(container)
    order = client.get(f"/v1/orders/{order_id}", headers=alice).json()["data"]
    assert order["status"] == "CANCELLED"
    assert order["filled_qty"] == "0.000000"
    money = balance(client, alice, container)
    assert (Decimal(money["available"]), Decimal(money["reserved"])) == (Decimal(100_000), Decimal(0))


def test_a_big_order_fills_from_several_dealers_and_the_rest_is_cancelled(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    rich = bearer(container, sub="rich", funds=Decimal(50_000_000))
    # a G-sec (face 100): the dealers hold 500 + 2000 + 5000 units, so 8000 units need all three
    placed = place(client, rich, isin="IN0020240019", qty="8000", limit_clean_price="106.00")
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["data"]["order_id"]
    settle_followers(container)
    order = client.get(f"/v1/orders/{order_id}", headers=rich).json()["data"]
    assert {f["dealer"] for f in order["fills"]} == {"dealer-alpha", "dealer-beta", "dealer-gamma"}
    assert (order["filled_qty"], order["cancelled_qty"]) == ("7500.000000", "500.000000")
    prices = [Decimal(f["clean_price"]) for f in order["fills"]]
    assert prices == sorted(prices)  # best price first
    assert order["reasons"] == ["IOC: no acceptable quote for the remainder"]


@pytest.mark.parametrize(
    ("setup", "body", "code", "status"),
    [
        ("unverified", {}, "BF-KYC-002", 403),
        ("non_resident", {}, "BF-KYC-002", 403),
        ("suspended", {}, "BF-ORD-005", 409),
        ("unlisted", {"isin": "INE296A07906"}, "BF-ORD-005", 409),
        ("funded", {"limit_clean_price": "110"}, "BF-ORD-006", 422),
        ("funded", {"qty": "6000", "limit_clean_price": "100"}, "BF-ORD-004", 403),
        ("poor", {}, "BF-ORD-007", 403),
        ("funded", {"side": "SELL", "limit_clean_price": "100"}, "BF-ORD-007", 403),
    ],
)
def test_each_pre_trade_rule_refuses_through_the_api_and_records_the_rejection(
    client: TestClient, container: Container, setup: str, body: dict[str, str], code: str, status: int
) -> None:
    headers = bearer(
        container, sub=f"inv-{setup}", funds=Decimal(10_000) if setup == "poor" else Decimal(10_000_000)
    )
    if setup == "unverified":
        headers = {
            "Authorization": f"Bearer {container.tokens.mint('inv-unverified', Role.INVESTOR, {'residency': 'IN'})}"
        }
    if setup == "non_resident":
        claims = {
            "kyc_status": "verified",
            "kyc_tier": "full",
            "residency": "US",
            "investor_category": "retail",
        }
        headers = {"Authorization": f"Bearer {container.tokens.mint('inv-us', Role.INVESTOR, claims)}"}
    if setup == "suspended":
        client.post(f"/v1/instruments/{ISIN}/suspend", json={}, headers=bearer(container, Role.ADMIN))
    before = container.store.head_position()
    refused = place(client, headers, **body)
    assert refused.status_code == status, refused.text
    assert refused.json()["error"]["code"] == code
    rejection = [
        n
        for n in container.store.recorder.select_notifications(start=before + 1, limit=50)
        if n.topic.endswith("Order.OrderRejected")
    ]
    assert len(rejection) == 1
    event = container.store.mapper.to_domain_event(rejection[0])
    assert event.code == code  # type: ignore[attr-defined]
    account = container.payments.escrow.load(headers and f"inv-{setup}")
    assert account.reserved == 0  # a refusal reserves nothing


def test_a_refused_order_replayed_with_its_key_answers_the_same_refusal(
    client: TestClient, container: Container
) -> None:
    poor = bearer(container, sub="poor", funds=Decimal(100))
    first = client.post(
        "/v1/orders",
        json={"isin": ISIN, "side": "BUY", "qty": "10"},
        headers={**poor, "Idempotency-Key": "k1"},
    )
    again = client.post(
        "/v1/orders",
        json={"isin": ISIN, "side": "BUY", "qty": "10"},
        headers={**poor, "Idempotency-Key": "k1"},
    )
    assert first.status_code == again.status_code == 403
    assert again.json()["error"] == first.json()["error"]
    assert again.headers["Idempotent-Replayed"] == "true"


def test_a_cancel_before_routing_wins_and_releases_the_reservation(
    client: TestClient, container: Container
) -> None:
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    order_id = place(client, alice, limit_clean_price="102").json()["data"]["order_id"]
    assert Decimal(balance(client, alice, container)["reserved"]) > 0
    cancelled = client.post(f"/v1/orders/{order_id}/cancel", headers=alice)
    assert cancelled.status_code == 202
    container.start_followers(["execution"])
    settle_followers(container)
    money = balance(client, alice, container)
    assert (Decimal(money["available"]), Decimal(money["reserved"])) == (Decimal(100_000), Decimal(0))
    assert client.get("/v1/trades", headers=alice).json()["data"] == []
    assert isinstance(last_event_of(container, order_id), Order.OrderCancelled)  # type: ignore[attr-defined]


def test_a_cancel_after_routing_is_refused_and_the_order_executes(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    order_id = place(client, alice, limit_clean_price="102").json()["data"]["order_id"]
    settle_followers(container)
    refused = client.post(f"/v1/orders/{order_id}/cancel", headers=alice)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "BF-ORD-008"
    assert escrow_id("alice")


def test_the_sandbox_venue_remembers_fills_across_a_restarted_worker(container: Container) -> None:
    """A quote executed again by a fresh venue client (a restarted execution worker, any process) is the
    same fill, and the dealer's inventory stays used."""
    from bondflow.adapters.venue import SandboxVenue

    first = SandboxVenue(container.db, seed=7)
    quotes = first.request_quotes("rfq-1", ISIN, "BUY", Decimal(400), Decimal("101.25"), ["dealer-alpha"])
    (quote,) = quotes
    assert quote.max_qty == Decimal(500)  # alpha's whole inventory
    fill = first.execute(quote, Decimal(400))
    restarted = SandboxVenue(container.db, seed=7)
    assert restarted.execute(quote, Decimal(400)) == fill  # the same quote again: the same fill, once
    (again,) = restarted.request_quotes(
        "rfq-2", ISIN, "BUY", Decimal(400), Decimal("101.25"), ["dealer-alpha"]
    )
    assert again.max_qty == Decimal(100)
    assert restarted.execute(again, Decimal(400)).qty == Decimal(100)  # only what is left
    assert (
        restarted.request_quotes("rfq-3", ISIN, "BUY", Decimal(1), Decimal("101.25"), ["dealer-alpha"]) == []
    )
