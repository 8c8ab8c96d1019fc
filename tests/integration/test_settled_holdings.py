"""Holdings count settled trades, not executed fills: a BUY shows once its DvP settlement completes, with the
settled quantity and price; a BUY whose settlement fails never shows although it executed; a SELL reduces
holdings only once it settles."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.domain.settlement import investor_wallet
from bondflow.domain.trades import Trade
from bondflow.runtime.followers import Positioned
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.integration.test_settlement import (
    ISIN,
    buy,
    eventually,
    order_in,
    settlement_of,
    trades_of,
)

pytestmark = pytest.mark.integration

SETTLED = Trade.TradeSettled  # type: ignore[attr-defined]
PRICE = Decimal("0.0001")


def buy_with_the_first_hold_refused(
    client: TestClient, container: Container, headers: dict[str, str], qty: str = "5"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A BUY whose first token hold the sandbox chain refuses (DvP: nothing moves): the order once final
    and its trades."""
    container.start_followers(["execution"])
    admin = bearer(container, Role.ADMIN)
    fault = client.post(
        "/v1/sandbox/faults", json={"target": "chain", "mode": "hold_fail_next"}, headers=admin
    )
    assert fault.status_code == 202, fault.text
    order_id = buy(client, headers, qty=qty)
    return order_in(client, headers, order_id, "CANCELLED", "PARTIAL"), trades_of(client, headers, order_id)


@contextmanager
def settlement_paused(container: Container) -> Iterator[None]:
    """Trades execute but no settlement starts inside the block (the saga follower is stopped); on leaving
    it a fresh saga resumes from its recorded position and settles what executed meanwhile."""
    name = "settlement_saga"
    stopped = container.followers[name]
    stopped.stop()
    container.running.remove(name)
    try:
        yield
    finally:
        fresh = type(stopped)(stopped.follower, container.store, container.db)
        container.followers[name] = fresh
        fresh.start()
        container.running.append(name)


def holdings(
    client: TestClient, container: Container, headers: dict[str, str], **params: Any
) -> dict[str, tuple[Decimal, Decimal]]:
    """ISIN → (qty, average clean price): as of `as_of` if given, else once holdings_view has every event
    logged so far."""
    if "as_of" not in params:
        params["min_position"] = container.store.head_position()
    answer = client.get("/v1/portfolio/holdings", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return {
        h["isin"]: (Decimal(h["qty"]), Decimal(h["avg_clean_price"]))
        for h in answer.json()["data"]["holdings"]
    }


def fills_of(client: TestClient, headers: dict[str, str], order_id: str) -> list[dict[str, Any]]:
    return eventually(
        lambda: (client.get(f"/v1/orders/{order_id}", headers=headers).json()["data"] or {}).get("fills")
    )


def settled_events(container: Container, user_id: str) -> list[Positioned]:
    notifications = container.store.recorder.select_notifications(start=1, limit=1_000_000)
    events = [Positioned(container.store.mapper.to_domain_event(n), n.id) for n in notifications]
    return [e for e in events if isinstance(e.event, SETTLED) and e.event.user_id == user_id]


def sell(client: TestClient, headers: dict[str, str], qty: str) -> str:
    body = {"isin": ISIN, "side": "SELL", "qty": qty, "limit_clean_price": "96.50"}
    placed = client.post("/v1/orders", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert placed.status_code == 202, placed.text
    return str(placed.json()["data"]["order_id"])


def test_a_buy_shows_in_holdings_once_it_settles_with_the_settled_qty_and_price(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    with settlement_paused(container):
        order_id = buy(client, alice, qty="20")
        fills = fills_of(client, alice, order_id)
        executed_at = container.store.head_position()
        assert holdings(client, container, alice) == {}  # executed, not settled: nothing held yet
    order_in(client, alice, order_id, "FILLED")
    settled = settled_events(container, "alice")
    assert sorted(str(s.event.originator_id) for s in settled) == sorted(f["trade_id"] for f in fills)
    facts: list[Any] = [s.event for s in settled]
    qty = sum((e.qty for e in facts), Decimal(0))
    cost = sum((e.qty * e.clean_price for e in facts), Decimal(0))
    assert qty == Decimal(20)
    now = holdings(client, container, alice)
    assert now == {ISIN: (qty, (cost / qty).quantize(PRICE, ROUND_HALF_UP))}
    assert container.settlement.chain.balance(investor_wallet("alice"), ISIN) == qty  # holdings = chain

    projector = container.followers["holdings_view"].follower
    projector.process(settled, projector.position())  # a redelivery is recognised by its position
    assert holdings(client, container, alice) == now
    assert holdings(client, container, alice, as_of=str(executed_at)) == {}


def test_a_buy_whose_settlement_fails_leaves_holdings_empty_although_it_executed(
    client: TestClient, container: Container
) -> None:
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    order, trades = buy_with_the_first_hold_refused(client, container, alice)
    (trade,) = trades  # 5 units are well within one dealer's inventory
    assert Decimal(trade["qty"]) == 5  # the trade executed ...
    failed = settlement_of(client, alice, trade["trade_id"], "COMPLETED", "FAILED")
    assert (failed["state"], failed["failure"]["code"]) == ("FAILED", "BF-SET-006")  # ... and did not settle
    assert order["status"] == "CANCELLED"
    assert holdings(client, container, alice) == {}
    assert settled_events(container, "alice") == []
    assert container.settlement.chain.balance(investor_wallet("alice"), ISIN) == 0


def test_a_sell_reduces_holdings_only_once_it_settles_and_keeps_the_average_price(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    order_in(client, alice, buy(client, alice, qty="5"), "FILLED")
    bought = holdings(client, container, alice)
    assert bought[ISIN][0] == Decimal(5)
    with settlement_paused(container):
        order_id = sell(client, alice, "2")
        (fill,) = fills_of(client, alice, order_id)
        assert Decimal(fill["qty"]) == 2  # the SELL executed ...
        assert holdings(client, container, alice) == bought  # ... and holdings still count 5 units
    order_in(client, alice, order_id, "FILLED")
    assert holdings(client, container, alice) == {ISIN: (Decimal(3), bought[ISIN][1])}
    assert container.settlement.chain.balance(investor_wallet("alice"), ISIN) == Decimal(3)
