"""Break resolution over HTTP: a step whose provider stays unavailable becomes a break operators list,
retry or force-cancel (only where undoing is possible: never a payout after delivery), never on their own
trades; a SELL whose dealer does not pay gives the investor's tokens back; the sandbox fault switches are
admin-only and absent in prod."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.adapters.chain_port import ChainUnavailable
from bondflow.adapters.payments_port import PaymentProviderUnavailable
from bondflow.domain.portfolio import Portfolio, portfolio_id
from bondflow.runtime.resilience import CircuitBreaker, Retrying
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.integration.test_settlement import buy, caught_up, eventually, money, order_in, settlement_of

pytestmark = pytest.mark.integration


def a_broken_buy(
    client: TestClient, container: Container, target: str = "payments"
) -> tuple[dict[str, str], str, dict[str, str]]:
    """One BUY whose `target` provider times out on every attempt of its (here single-attempt) budget: the
    payments provider breaks the dealer payout after delivery, the chain breaks the hold before anything."""
    if target == "payments":
        worker: Any = container.settlement.payments_worker
        worker.retrying = Retrying(CircuitBreaker("payments"), (PaymentProviderUnavailable,), attempts=1)
    else:
        worker = container.settlement.chain_worker
        worker.retrying = Retrying(CircuitBreaker("chain"), (ChainUnavailable,), attempts=1)
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    caught_up(container, "payment_effects")
    admin = bearer(container, Role.ADMIN)
    client.post("/v1/sandbox/faults", json={"target": target, "mode": "timeout_next"}, headers=admin)
    order_id = buy(client, alice, qty="2")
    trade_id = eventually(
        lambda: (client.get(f"/v1/orders/{order_id}", headers=alice).json()["data"] or {}).get("fills")
    )[0]["trade_id"]
    broken = settlement_of(client, alice, trade_id, "BROKEN")
    return alice, order_id, broken


def test_an_operator_retries_a_broken_payout_and_the_trade_settles_but_cannot_undo_it(
    client: TestClient, container: Container
) -> None:
    alice, order_id, broken = a_broken_buy(client, container)
    ops = bearer(container, Role.OPS, sub="ops-1")
    listed = client.get("/v1/ops/settlements", params={"state": "BROKEN"}, headers=ops).json()["data"]
    assert [s["settlement_id"] for s in listed] == [broken["settlement_id"]]
    assert client.get("/v1/ops/settlements", headers=alice).status_code == 403
    assert broken["legs"]["token"]["state"] == "FINAL"  # delivered: the dealer must be paid, not undone
    no = client.post(f"/v1/ops/settlements/{broken['settlement_id']}/force-cancel", headers=ops)
    assert no.status_code == 409 and no.json()["error"]["code"] == "BF-SET-008"
    retried = client.post(f"/v1/ops/settlements/{broken['settlement_id']}/retry", headers=ops)
    assert retried.status_code == 202, retried.text
    order_in(client, alice, order_id, "FILLED")
    done = settlement_of(client, alice, broken["trade_id"], "COMPLETED")
    assert [h["event"] for h in done["history"]][-5:] == [
        "DealerPayoutInstructed",
        "BreakRaised",
        "RetryRequested",
        "DealerPaid",
        "Completed",
    ]
    paid = [t for t in container.settlement.payouts.transfers() if t[1] == str(broken["settlement_id"])]
    assert len(paid) == 1  # once, whatever was retried


def test_an_operator_cannot_resolve_a_break_on_their_own_trade(
    client: TestClient, container: Container
) -> None:
    _alice, _order_id, broken = a_broken_buy(client, container, "chain")
    herself = bearer(container, Role.OPS, sub="alice")
    refused = client.post(f"/v1/ops/settlements/{broken['settlement_id']}/force-cancel", headers=herself)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "BF-AUTH-002"


def test_a_force_cancelled_broken_hold_releases_the_reservation_and_fails(
    client: TestClient, container: Container
) -> None:
    alice, order_id, broken = a_broken_buy(client, container, "chain")
    ops = bearer(container, Role.OPS, sub="ops-1")
    cancelled = client.post(f"/v1/ops/settlements/{broken['settlement_id']}/force-cancel", headers=ops)
    assert cancelled.status_code == 202, cancelled.text
    failed = settlement_of(client, alice, broken["trade_id"], "FAILED")
    assert failed["failure"]["code"] == "BF-SET-009"
    order_in(client, alice, order_id, "CANCELLED")
    eventually(lambda: money(client, alice) == (Decimal(100_000), Decimal(0)))
    again = client.post(f"/v1/ops/settlements/{broken['settlement_id']}/force-cancel", headers=ops)
    assert again.status_code == 409 and again.json()["error"]["code"] == "BF-SET-008"


def test_sandbox_faults_are_admin_only_and_validated(client: TestClient, container: Container) -> None:
    investor = bearer(container, sub="someone")
    body = {"target": "chain", "mode": "fail_rate", "value": 0.5}
    assert client.post("/v1/sandbox/faults", json=body, headers=investor).status_code == 403
    admin = bearer(container, Role.ADMIN)
    assert client.post("/v1/sandbox/faults", json=body, headers=admin).status_code == 202
    assert container.faults["chain"].rate("fail_rate") == 0.5
    for bad in (
        {"target": "moon", "mode": "fail_next"},
        {"target": "chain", "mode": "explode"},
        {"target": "chain", "mode": "fail_rate", "value": "2"},
        {"target": "chain", "mode": "fail_rate"},
    ):
        answer = client.post("/v1/sandbox/faults", json=bad, headers=admin)
        assert answer.status_code == 400, (bad, answer.text)
    assert client.delete("/v1/sandbox/faults", headers=admin).status_code == 200
    assert container.faults["chain"].rate("fail_rate") == 0.0


def test_a_sell_whose_dealer_does_not_pay_releases_the_hold_and_fails_with_nothing_moved(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    order_in(client, alice, buy(client, alice, qty="5"), "FILLED")
    caught_up(container, "payment_effects")
    admin = bearer(container, Role.ADMIN)
    client.post("/v1/sandbox/faults", json={"target": "payments", "mode": "fail_next"}, headers=admin)
    before, _ = money(client, alice)
    body = {"isin": "INE123A07043", "side": "SELL", "qty": "1", "limit_clean_price": "96.50"}
    placed = client.post("/v1/orders", json=body, headers={**alice, "Idempotency-Key": "sell-1"})
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["data"]["order_id"]
    fills = eventually(
        lambda: (client.get(f"/v1/orders/{order_id}", headers=alice).json()["data"] or {}).get("fills")
    )
    failed = settlement_of(client, alice, fills[0]["trade_id"], "FAILED")
    assert failed["failure"]["code"] == "BF-PAY-006"
    assert failed["legs"] == {
        "payment": {"state": "FAILED", "reference": None},
        "token": {"state": "RELEASED", "tx_hash": None},
    }
    assert [h["event"] for h in failed["history"]][-3:] == ["HoldReleaseRequested", "HoldReleased", "Failed"]
    order_in(client, alice, order_id, "CANCELLED")
    eventually(lambda: money(client, alice) == (before, Decimal(0)))
    chain = container.settlement.chain
    assert chain.balance("investor:alice", "INE123A07043") == Decimal(5)
    assert chain.held("investor:alice", "INE123A07043") == 0
    portfolio: Portfolio = container.store.repository.get(portfolio_id("alice"))
    assert portfolio.free_units("INE123A07043") == Decimal(5)
