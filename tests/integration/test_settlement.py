"""DvP settlement over HTTP with the sandboxes: a BUY reaches FILLED with escrow debited exactly the
consideration, tokens on the chain and units held; each compensation path ends FAILED with both legs undone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from bondflow.domain.portfolio import Portfolio, portfolio_id
from bondflow.domain.settlement import investor_wallet
from bondflow.runtime.clock import ManualClock
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer

pytestmark = pytest.mark.integration

ISIN = "INE123A07043"
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float = 20.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def caught_up(container: Container, follower: str) -> None:
    head = container.store.head_position()
    eventually(lambda: container.followers[follower].follower.position() >= head)


def buy(client: TestClient, headers: dict[str, str], qty: str = "20", **body: Any) -> str:
    payload = {"isin": ISIN, "side": "BUY", "qty": qty, "limit_clean_price": "102.00", **body}
    placed = client.post("/v1/orders", json=payload, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert placed.status_code == 202, placed.text
    return str(placed.json()["data"]["order_id"])


def order_in(client: TestClient, headers: dict[str, str], order_id: str, *statuses: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        order = client.get(f"/v1/orders/{order_id}", headers=headers).json()["data"]
        return order if order and order["status"] in statuses else None

    return eventually(probe)


def settlement_of(client: TestClient, headers: dict[str, str], trade_id: str, *states: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        answer = client.get(f"/v1/trades/{trade_id}/settlement", headers=headers)
        data = answer.json()["data"] if answer.status_code == 200 else None
        return data if data and data["state"] in states else None

    return eventually(probe)


def money(client: TestClient, headers: dict[str, str]) -> tuple[Decimal, Decimal]:
    data = client.get("/v1/escrow/balance", headers=headers).json()["data"]
    return Decimal(data["available"]), Decimal(data["reserved"])


def held(container: Container, user_id: str) -> tuple[Decimal, Decimal]:
    portfolio: Portfolio = container.store.repository.get(portfolio_id(user_id))
    position = portfolio.positions[ISIN]
    return position.held, position.pending_buy


def trades_of(client: TestClient, headers: dict[str, str], order_id: str) -> list[dict[str, Any]]:
    trades = client.get("/v1/trades", headers=headers).json()["data"]
    return [t for t in trades if t["order_id"] == order_id]


def dealer_transfers(container: Container, direction: str) -> dict[str, list[Decimal]]:
    """Settlement id → the amounts the dealer-payments sandbox actually moved in `direction`."""
    moved: dict[str, list[Decimal]] = {}
    for _key, sid, way, _dealer, amount in container.settlement.payouts.transfers():
        if way == direction:
            moved.setdefault(sid, []).append(amount)
    return moved


BUY_HISTORY = [
    "Started",
    "HoldRequested",
    "HoldPlaced",
    "PaymentConfirmed",
    "TokenTransferRequested",
    "TokenTransferred",
    "DealerPayoutInstructed",
    "DealerPaid",
    "Completed",
]


def test_a_funded_investors_buy_settles_to_filled_with_escrow_debited_and_tokens_on_chain(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    order_id = buy(client, alice)
    order = order_in(client, alice, order_id, "FILLED")
    assert order["filled_qty"] == "20.000000"
    trades = trades_of(client, alice, order_id)
    settlements = [settlement_of(client, alice, t["trade_id"], "COMPLETED") for t in trades]
    consideration = sum((Decimal(s["consideration"]) for s in settlements), Decimal(0))
    eventually(lambda: money(client, alice) == (Decimal(100_000) - consideration, Decimal(0)))
    assert container.settlement.chain.balance(investor_wallet("alice"), ISIN) == Decimal(20)
    assert held(container, "alice") == (Decimal(20), Decimal(0))
    settled_by = {"min_position": container.store.head_position()}  # holdings follow TradeSettled
    answer = client.get("/v1/portfolio/holdings", params=settled_by, headers=alice)
    holdings = answer.json()["data"]["holdings"]
    bond = next(h for h in holdings if h["isin"] == ISIN)
    assert Decimal(bond["qty"]) == 20 and bond["ytm"] is not None and bond["modified_duration"] is not None
    paid = dealer_transfers(container, "PAY_DEALER")
    for trade, settlement in zip(trades, settlements, strict=True):
        assert settlement["legs"]["payment"]["state"] == "PAID"
        assert settlement["legs"]["payment"]["reference"].startswith("SBXSET")
        assert settlement["legs"]["token"] == {
            "state": "FINAL",
            "tx_hash": settlement["legs"]["token"]["tx_hash"],
        }
        assert settlement["legs"]["token"]["tx_hash"].startswith("0x")
        assert [h["event"] for h in settlement["history"]] == BUY_HISTORY
        # the dealer is paid the gross consideration, once: the trade's fee is the platform's
        gross = Decimal(trade["consideration"]) - Decimal(trade["fees"])
        assert paid[str(settlement["settlement_id"])] == [gross]
    eventually(lambda: all(t["settlement_state"] == "SETTLED" for t in trades_of(client, alice, order_id)))
    bob = bearer(container, sub="bob")
    assert client.get(f"/v1/trades/{trades[0]['trade_id']}/settlement", headers=bob).status_code == 404


def test_a_hold_that_cannot_be_placed_releases_the_reservation_and_fails_the_settlement(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    admin = bearer(container, Role.ADMIN)
    fault = {"target": "chain", "mode": "hold_fail_next"}
    assert client.post("/v1/sandbox/faults", json=fault, headers=admin).status_code == 202
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    order_id = buy(client, alice, qty="5")
    order = order_in(client, alice, order_id, "CANCELLED", "PARTIAL")
    trades = trades_of(client, alice, order_id)
    outcomes = [settlement_of(client, alice, t["trade_id"], "COMPLETED", "FAILED") for t in trades]
    assert [s["state"] for s in outcomes].count("FAILED") == 1
    failed = next(s for s in outcomes if s["state"] == "FAILED")
    assert failed["failure"]["code"] == "BF-SET-006"
    assert failed["legs"] == {
        "payment": {"state": "NOT_STARTED", "reference": None},
        "token": {"state": "HOLD_FAILED", "tx_hash": None},
    }
    assert [h["event"] for h in failed["history"]] == ["Started", "HoldRequested", "HoldFailed", "Failed"]
    settled = sum((Decimal(s["consideration"]) for s in outcomes if s["state"] == "COMPLETED"), Decimal(0))
    eventually(lambda: money(client, alice) == (Decimal(100_000) - settled, Decimal(0)))
    assert order["status"] == ("CANCELLED" if len(trades) == 1 else "PARTIAL")
    assert str(failed["settlement_id"]) not in dealer_transfers(container, "PAY_DEALER")


def test_a_rejected_token_transfer_returns_the_cash_from_clearing_and_pays_no_dealer(
    client: TestClient, container: Container
) -> None:
    """Issue 12 defect 1: the investor's money comes back from clearing; nothing ever went to the dealer."""
    container.start_followers(["execution"])
    admin = bearer(container, Role.ADMIN)
    client.post("/v1/sandbox/faults", json={"target": "chain", "mode": "fail_next"}, headers=admin)
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    order_id = buy(client, alice, qty="5")
    order_in(client, alice, order_id, "CANCELLED", "PARTIAL")
    trades = trades_of(client, alice, order_id)
    outcomes = [settlement_of(client, alice, t["trade_id"], "COMPLETED", "FAILED") for t in trades]
    failed = next(s for s in outcomes if s["state"] == "FAILED")
    assert failed["failure"]["code"] == "BF-SET-006"
    assert failed["legs"]["payment"]["state"] == "RETURNED"
    assert failed["legs"]["token"]["state"] == "FAILED"
    assert [h["event"] for h in failed["history"]][-4:] == [
        "TokenTransferRequested",
        "TokenTransferFailed",
        "CashReturned",
        "Failed",
    ]
    settled = sum((Decimal(s["consideration"]) for s in outcomes if s["state"] == "COMPLETED"), Decimal(0))
    eventually(lambda: money(client, alice) == (Decimal(100_000) - settled, Decimal(0)))
    assert str(failed["settlement_id"]) not in dealer_transfers(container, "PAY_DEALER")
    completed = sum((Decimal(s["qty"]) for s in outcomes if s["state"] == "COMPLETED"), Decimal(0))
    assert container.settlement.chain.balance(investor_wallet("alice"), ISIN) == completed
    assert container.settlement.chain.held("dealer:" + failed_dealer(container, failed), ISIN) == 0


def failed_dealer(container: Container, settlement: dict[str, Any]) -> str:
    return str(container.settlement.commands.get(settlement["settlement_id"]).dealer)


def test_a_token_transfer_not_final_by_its_deadline_is_released_and_returned_with_bf_set_007(
    client: TestClient, container: Container, clock: ManualClock
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    stall = {"target": "chain", "mode": "stall_rate", "value": "1"}  # executions are never final
    assert (
        client.post("/v1/sandbox/faults", json=stall, headers=bearer(container, Role.ADMIN)).status_code
        == 202
    )
    order_id = buy(client, alice, qty="5")
    eventually(
        lambda: (client.get(f"/v1/orders/{order_id}", headers=alice).json()["data"] or {}).get("fills")
    )
    trades = trades_of(client, alice, order_id)
    for trade in trades:
        settlement_of(client, alice, trade["trade_id"], "TOKEN_REQUESTED")
    clock.advance(timedelta(minutes=5))
    order_in(client, alice, order_id, "CANCELLED")
    for trade in trades:
        failed = settlement_of(client, alice, trade["trade_id"], "FAILED")
        assert failed["failure"]["code"] == "BF-SET-007"
        assert "DeadlineExpired" in [h["event"] for h in failed["history"]]
        assert str(failed["settlement_id"]) not in dealer_transfers(container, "PAY_DEALER")
    eventually(lambda: money(client, alice) == (Decimal(100_000), Decimal(0)))
    assert container.settlement.chain.balance(investor_wallet("alice"), ISIN) == 0
    assert held(container, "alice") == (Decimal(0), Decimal(0))
