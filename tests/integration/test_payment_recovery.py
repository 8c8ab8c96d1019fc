"""Acknowledged deposits always end: a provider dropped between accepting a deposit and calling back
finishes it once restarted; a webhook that never arrives is replaced by the reconciler's status query; no
final answer by the deadline is a break for operators, and so is an answer that does not fit; operators
resolve breaks over HTTP, and nothing is credited twice or without the provider's confirmation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from bondflow.domain.escrow import EscrowAccount, escrow_id_of_payment
from bondflow.runtime.clock import ManualClock
from bondflow.security.principal import Role
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.integration.test_payments_api import balance, deposit, wait_for_status, webhook
from tests.integration.test_settlement import eventually

pytestmark = pytest.mark.integration


def through(client: TestClient, container: Container) -> None:
    """The sandbox calls the webhook through the test client (signature checks run for real)."""
    container.payments.provider.sender.deliver = lambda body, headers: (
        client.post("/v1/payments/webhook", content=body, headers=headers).status_code
    )


def lose_webhooks(container: Container) -> None:
    """Every webhook the sandbox sends is lost on the way (the receiver never sees it)."""
    container.payments.provider.sender.deliver = lambda body, headers: 202


def status_of(client: TestClient, headers: dict[str, str], payment_id: str) -> dict[str, Any]:
    answer = client.get(f"/v1/payments/{payment_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def events_of(container: Container, payment_id: str) -> list[tuple[str, str]]:
    """(event name, actor) of every event of this payment on its account."""
    account_id = escrow_id_of_payment(payment_id)
    assert account_id is not None
    return [
        (type(e).__qualname__.split(".")[-1], str(e.actor_id))
        for e in container.store.events.get(account_id)
        if getattr(e, "payment_id", None) == payment_id
    ]


def accepted_by_provider(container: Container, count: int = 1) -> None:
    eventually(lambda: len(container.payments.provider.accepted) >= count, timeout=20)


def final_at_provider(container: Container) -> None:
    """Wait until the sandbox's answer is final (its webhook delay has passed)."""
    time.sleep(container.payments.provider.delay_seconds + 0.2)


@pytest.fixture
def restarted(settings: Settings, clock: ManualClock) -> Iterator[list[Container]]:
    """Containers built later on the same database: what a restarted process runs."""
    built: list[Container] = []
    yield built
    for container in built:
        container.close()


def test_a_provider_dropped_between_acceptance_and_webhook_completes_the_deposit_after_restart(
    client: TestClient,
    container: Container,
    settings: Settings,
    clock: ManualClock,
    restarted: list[Container],
) -> None:
    through(client, container)
    container.payments.provider.delay_seconds = 3.0  # a window between acceptance and the callback
    investor = bearer(container, funds=None)
    payment_id = deposit(client, investor, "4321.00").json()["data"]["payment_id"]
    accepted_by_provider(container)
    # the payments read model has the deposit before the process dies: stopping the followers at once could
    # leave it unprojected (its projector lingers after a batch), and the read below would answer 404
    eventually(lambda: client.get(f"/v1/payments/{payment_id}", headers=investor).status_code == 200)
    container.payments.provider.close()  # the process that ran the provider dies before calling back
    container.stop_followers()
    time.sleep(3.5)
    assert status_of(client, investor, payment_id)["status"] == "INITIATED"

    again = bootstrap(settings, clock=clock)  # any process that runs the provider afterwards
    restarted.append(again)
    through(client, again)
    again.start_followers([name for name in again.followers if name != "execution"])
    done = wait_for_status(client, investor, payment_id, timeout=20)
    assert done["status"] == "CONFIRMED" and done["amount"] == "4321.00"
    assert balance(client, investor)["available"] == "4321.00"
    assert [name for name, _actor in events_of(container, payment_id)] == [
        "DepositInitiated",
        "PaymentConfirmed",
    ]


def test_a_deposit_whose_webhook_is_lost_is_confirmed_by_the_status_query(
    client: TestClient, container: Container, clock: ManualClock
) -> None:
    lose_webhooks(container)
    investor = bearer(container, funds=None)
    payment_id = deposit(client, investor, "250.00").json()["data"]["payment_id"]
    accepted_by_provider(container)
    final_at_provider(container)
    assert status_of(client, investor, payment_id)["status"] == "INITIATED"
    clock.advance(timedelta(seconds=container.settings.payments_status_check_seconds + 1))
    done = wait_for_status(client, investor, payment_id)
    assert done["status"] == "CONFIRMED" and done["reference"].startswith("SBXUPI")
    assert balance(client, investor)["available"] == "250.00"
    assert events_of(container, payment_id)[-1] == ("PaymentConfirmed", "system:payments-reconciler")


def test_a_withdrawal_whose_webhook_is_lost_is_paid_out_by_the_status_query(
    client: TestClient, container: Container, clock: ManualClock
) -> None:
    lose_webhooks(container)
    investor = bearer(container, funds=Decimal(1000))
    started = client.post(
        "/v1/payments/withdrawals", json={"amount": "400"}, headers={**investor, "Idempotency-Key": "wd-lost"}
    )
    assert started.status_code == 202, started.text
    payment_id = started.json()["data"]["payment_id"]
    accepted_by_provider(container)
    final_at_provider(container)
    clock.advance(timedelta(seconds=container.settings.payments_status_check_seconds + 1))
    paid = wait_for_status(client, investor, payment_id)
    assert paid["status"] == "CONFIRMED" and paid["kind"] == "WITHDRAWAL"
    after = balance(client, investor)
    assert (after["available"], after["pending_withdrawal"]) == ("600.00", "0.00")


def test_a_deposit_the_provider_never_received_is_cancelled_there_and_failed_at_its_deadline(
    client: TestClient, container: Container, clock: ManualClock
) -> None:
    effects = container.followers["payment_effects"]
    effects.stop()  # the provider call is never made before the deadline
    container.running.remove("payment_effects")
    investor = bearer(container, funds=None)
    payment_id = deposit(client, investor, "90.00").json()["data"]["payment_id"]
    clock.advance(timedelta(seconds=container.settings.payments_status_check_seconds + 1))
    time.sleep(0.5)
    assert status_of(client, investor, payment_id)["status"] == "INITIATED"  # not yet: it may still come
    clock.advance(timedelta(seconds=container.settings.payments_deadline_seconds))
    failed = wait_for_status(client, investor, payment_id)
    assert failed["status"] == "FAILED" and failed["reason"].startswith("deadline:"), failed

    account_id = escrow_id_of_payment(payment_id)
    assert account_id is not None
    (initiated,) = [e for e in container.store.events.get(account_id) if "DepositInitiated" in str(type(e))]
    effects.follower.handle(initiated)  # the late call finds the key cancelled: nothing starts
    assert status_of(client, investor, payment_id)["status"] == "FAILED"
    assert container.payments.provider.accepted == []
    assert balance(client, investor)["available"] == "0.00"


def test_no_final_answer_by_the_deadline_is_a_break_that_operators_resolve(
    client: TestClient, container: Container, clock: ManualClock
) -> None:
    lose_webhooks(container)
    investor = bearer(container, funds=None)
    ops = bearer(container, Role.OPS)
    payment_id = deposit(client, investor, "75.00").json()["data"]["payment_id"]
    accepted_by_provider(container)
    final_at_provider(container)
    container.payments.provider.faults.set("timeout_rate", 1.0)  # every status query times out
    clock.advance(timedelta(seconds=container.settings.payments_deadline_seconds + 1))
    broken = wait_for_status(client, investor, payment_id)
    assert broken["status"] == "BROKEN" and broken["reason"].startswith("deadline:"), broken
    listed = client.get("/v1/ops/payments?status=BROKEN", headers=ops).json()["data"]
    assert [(p["payment_id"], p["status"]) for p in listed] == [(payment_id, "BROKEN")]
    assert balance(client, investor)["available"] == "0.00"

    down = client.post(f"/v1/ops/payments/{payment_id}/resolve", json={}, headers=ops)
    assert down.status_code == 409 and down.json()["error"]["code"] == "BF-PAY-007", down.text
    container.payments.provider.faults.clear()
    resolved = client.post(f"/v1/ops/payments/{payment_id}/resolve", json={}, headers=ops)
    assert resolved.status_code == 202, resolved.text
    assert resolved.json()["data"] == {"payment_id": payment_id, "status": "CONFIRMED", "applied": True}
    position = resolved.json()["meta"]["position"]
    assert balance(client, investor, position)["available"] == "75.00"
    twice = client.post(f"/v1/ops/payments/{payment_id}/resolve", json={}, headers=ops)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "BF-PAY-007"
    assert balance(client, investor)["available"] == "75.00"


def test_a_mismatching_answer_is_a_break_resolved_with_the_bank_statements_amount(
    client: TestClient, container: Container
) -> None:
    lose_webhooks(container)
    investor = bearer(container, funds=None)
    ops = bearer(container, Role.OPS)
    payment_id = deposit(client, investor, "100.00").json()["data"]["payment_id"]
    accepted_by_provider(container)
    bad = {"event_id": "evt-x", "payment_id": payment_id, "status": "CONFIRMED", "amount": "1000.00"}
    answer = webhook(client, container, {**bad, "reference": "R"})
    assert answer.status_code == 202 and answer.json()["data"]["status"] == "BROKEN"
    position = answer.json()["meta"]["position"]
    shown = client.get(f"/v1/payments/{payment_id}?min_position={position}", headers=investor).json()["data"]
    assert shown["status"] == "BROKEN" and shown["reason"].startswith("amount_mismatch"), shown
    assert balance(client, investor)["available"] == "0.00"
    events = events_of(container, payment_id)
    assert events[-1] == ("PaymentBreakRaised", "payments-provider")

    final_at_provider(container)
    wrong = client.post(f"/v1/ops/payments/{payment_id}/resolve", json={"bank_amount": "1000"}, headers=ops)
    assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "BF-PAY-007", wrong.text
    own = bearer(container, Role.OPS, sub=escrow_owner(container, payment_id))
    mine = client.post(f"/v1/ops/payments/{payment_id}/resolve", json={"bank_amount": "100"}, headers=own)
    assert mine.status_code == 403 and mine.json()["error"]["code"] == "BF-AUTH-002"
    for junk in ({"bank_amount": "-1"}, {"bank_amount": "1.001"}, {"amount": "1"}, {"bank_amount": None}):
        refused = client.post(f"/v1/ops/payments/{payment_id}/resolve", json=junk, headers=ops)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "BF-REQ-001", junk
    resolved = client.post(f"/v1/ops/payments/{payment_id}/resolve", json={"bank_amount": "100"}, headers=ops)
    assert resolved.status_code == 202 and resolved.json()["data"]["status"] == "CONFIRMED", resolved.text
    assert balance(client, investor, resolved.json()["meta"]["position"])["available"] == "100.00"
    assert container.payments.provider.redeliver(payment_id) in (0, 202)  # the provider's own event, late
    again = webhook(client, container, orjson.loads(container.payments.provider.sent[payment_id]))
    assert again.status_code == 202 and again.json()["data"]["applied"] is False
    assert balance(client, investor, again.json()["meta"]["position"])["available"] == "100.00"
    assert [n for n, _a in events_of(container, payment_id)].count("PaymentConfirmed") == 1


def test_a_webhook_delivered_twice_and_a_status_query_still_credit_once(
    client: TestClient, container: Container, clock: ManualClock
) -> None:
    through(client, container)
    container.payments.provider.faults.set("duplicate_rate", 1.0)
    investor = bearer(container, funds=None)
    payment_id = deposit(client, investor, "33.30").json()["data"]["payment_id"]
    assert wait_for_status(client, investor, payment_id)["status"] == "CONFIRMED"
    eventually(lambda: container.payments.provider.sender.outbox.pending() == 0, timeout=20)
    with container.db.cursor() as cur:
        row = cur.execute("SELECT count(*) FROM sandbox_webhooks WHERE last_status = 202").fetchone()
    assert row is not None and row[0] == 2  # both deliveries reached BondFlow
    assert container.payments.reconciler.check(payment_id, clock.now(), clock.now()) == 0
    assert balance(client, investor)["available"] == "33.30"
    names = [n for n, _a in events_of(container, payment_id)]
    assert names == ["DepositInitiated", "PaymentConfirmed"]


def escrow_owner(container: Container, payment_id: str) -> str:
    account, _payment = container.payments.commands.outcomes.payment(payment_id)
    assert isinstance(account, EscrowAccount)
    return str(account.user_id)
