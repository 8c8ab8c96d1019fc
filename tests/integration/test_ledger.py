"""The ledger on real PostgreSQL through the whole money path: deposits confirmed by the payments sandbox,
a withdrawal, orders reserved, filled and settled both ways. Every journal entry balances, the ledger
balances in total, each investor's ledger accounts equal the escrow read model, `bank:escrow` equals the
escrow bank's own book, and the day reconciles with no break, once."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.integration.test_payments_api import deposit, wait_for_status
from tests.integration.test_settlement import buy, caught_up, eventually, order_in, trades_of

pytestmark = pytest.mark.integration

ISIN = "INE123A07043"
ZERO = Decimal(0)


@pytest.fixture
def sandbox(client: TestClient, container: Container) -> Any:
    provider = container.payments.provider
    provider.sender.deliver = lambda body, headers: (
        client.post("/v1/payments/webhook", content=body, headers=headers).status_code
    )
    return provider


def settled_everything(client: TestClient, container: Container, headers: dict[str, str]) -> None:
    """Every trade terminal, then the poster and the ledger read model at the head of the log."""

    def terminal() -> bool:
        trades = client.get("/v1/trades", headers=headers).json()["data"]
        return all(t["settlement_state"] in ("SETTLED", "FAILED") for t in trades)

    eventually(terminal)
    caught_up(container, "settlement_saga")
    caught_up(container, "ledger_poster")
    caught_up(container, "ledger_view")


def ledger(client: TestClient, ops: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = client.get("/v1/ops/ledger", params={"limit": 100, **params}, headers=ops)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def balances(data: dict[str, Any]) -> dict[str, Decimal]:
    return {a["account"]: Decimal(a["balance"]) for a in data["accounts"]}


def sell(client: TestClient, headers: dict[str, str], qty: str) -> str:
    body = {"isin": ISIN, "side": "SELL", "qty": qty, "limit_clean_price": "96.50"}
    placed = client.post("/v1/orders", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
    assert placed.status_code == 202, placed.text
    return str(placed.json()["data"]["order_id"])


def test_a_trading_day_posts_balanced_entries_that_agree_with_escrow_and_the_bank(
    client: TestClient, container: Container, sandbox: Any
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=None)
    ops = bearer(container, Role.OPS, "ops-1")
    for amount, method in (("300000", "RTGS"), ("50000.50", "UPI")):
        paid = deposit(client, alice, amount, method).json()["data"]["payment_id"]
        assert wait_for_status(client, alice, paid)["status"] == "CONFIRMED"
    key = {"Idempotency-Key": uuid.uuid4().hex}
    withdrawn = client.post("/v1/payments/withdrawals", json={"amount": "1000"}, headers={**alice, **key})
    assert withdrawn.status_code == 202, withdrawn.text
    assert wait_for_status(client, alice, withdrawn.json()["data"]["payment_id"])["status"] == "CONFIRMED"
    bought = buy(client, alice, qty="20")
    order_in(client, alice, bought, "FILLED", "PARTIAL")
    sold = sell(client, alice, "5")
    order_in(client, alice, sold, "FILLED", "PARTIAL", "CANCELLED")
    assert trades_of(client, alice, sold), "the SELL found no dealer: the dealer-receipt leg is not exercised"
    settled_everything(client, container, alice)

    data = ledger(client, ops)["data"]
    assert data["totals"]["balanced"] and Decimal(data["totals"]["debit"]) > 0
    for entry in data["entries"]:
        debits = sum(Decimal(x["debit"]) for x in entry["lines"])
        assert debits == sum(Decimal(x["credit"]) for x in entry["lines"]) > 0, entry
    kinds = {e["kind"] for e in data["entries"]}
    dvp = {"trade_clearing", "dealer_payable", "dealer_payout", "dealer_receipt", "proceeds"}
    assert {"deposit", "withdrawal", "reserve", *dvp} <= kinds, kinds
    assert "trade_debit" not in kinds  # the escrow's twin of the BUY's clearing entry posts nothing
    accounts = balances(data)
    escrow = client.get("/v1/escrow/balance", headers=alice).json()["data"]
    assert accounts["investor:alice:available"] == Decimal(escrow["available"])
    assert accounts.get("investor:alice:reserved", ZERO) == Decimal(escrow["reserved"])
    assert accounts["bank:escrow"] == container.ledger.bank.balance()
    assert accounts["clearing"] == ZERO  # nothing in flight once every trade settled
    assert accounts["platform:fees"] > 0 and accounts["tax:stamp_duty"] > 0  # the BUY's costs
    assert all(v == ZERO for n, v in accounts.items() if n.startswith("dealer:"))  # paid what they are owed
    assert sum(a for n, a in accounts.items() if n != "bank:escrow") == accounts["bank:escrow"]

    one = ledger(client, ops, account="investor:alice:available", limit=2)
    assert [a["account"] for a in one["data"]["accounts"]] == ["investor:alice:available"]
    assert len(one["data"]["entries"]) == 2 and one["meta"]["next_cursor"]
    for entry in one["data"]["entries"]:
        assert any(x["account"] == "investor:alice:available" for x in entry["lines"])
    after = ledger(
        client, ops, account="investor:alice:available", limit=2, cursor=one["meta"]["next_cursor"]
    )
    assert {e["entry_id"] for e in after["data"]["entries"]}.isdisjoint(
        e["entry_id"] for e in one["data"]["entries"]
    )

    first = client.get("/v1/ops/reconciliation", headers=ops).json()["data"]
    assert first["reconciled"] and first["breaks"] == [] and first["recorded"], first
    assert first["matched"] == first["statement_lines"] == first["ledger_lines"] >= 5
    head = container.store.head_position()
    second = client.get("/v1/ops/reconciliation", headers=ops).json()["data"]
    assert not second["recorded"] and second["runs"] == 1
    assert container.store.head_position() == head  # the second run recorded nothing


def test_a_redelivered_source_event_posts_its_entry_once(client: TestClient, container: Container) -> None:
    bearer(container, sub="bob", funds=Decimal(5000))
    caught_up(container, "ledger_poster")
    poster = container.ledger.poster
    notifications = container.store.recorder.select_notifications(start=1, limit=1000)
    events = [container.store.mapper.to_domain_event(n) for n in notifications if n.topic in poster.topics]
    assert events, "no money event was recorded"
    from bondflow.runtime.followers import Positioned

    head = container.store.head_position()
    poster.process([Positioned(e, 1) for e in events], 1)  # everything again, as after a crash
    assert container.store.head_position() == head
    caught_up(container, "ledger_view")
    data = ledger(client, bearer(container, Role.OPS, "ops-2"))["data"]
    assert balances(data)["investor:bob:available"] == Decimal("5000.00")


def test_the_ledger_and_reconciliation_need_the_ops_scope_and_valid_parameters(
    client: TestClient, container: Container
) -> None:
    alice = bearer(container, sub="alice", funds=None)
    ops = bearer(container, Role.OPS, "ops-1")
    assert client.get("/v1/ops/ledger", headers=alice).status_code == 403
    assert client.get("/v1/ops/reconciliation", headers=alice).status_code == 403
    for params in ({"account": "nobody"}, {"limit": 0}, {"cursor": "garbage"}):
        answer = client.get("/v1/ops/ledger", params=params, headers=ops)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "BF-REQ-001", answer.text
    answer = client.get("/v1/ops/reconciliation", params={"date": "2026-13-01"}, headers=ops)
    assert answer.status_code == 400, answer.text
