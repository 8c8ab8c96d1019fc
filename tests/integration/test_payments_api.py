"""Payments over HTTP on real PostgreSQL: deposits confirmed by the sandbox's signed webhook, idempotency,
webhook authentication, withdrawals, and malformed requests that never reach a 5xx."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from bondflow.security.webhooks import signed_headers
from bondflow.settings import DEV_WEBHOOK_SECRET
from bondflow.wiring.container import Container
from tests.conftest import bearer

pytestmark = pytest.mark.integration


@pytest.fixture
def sandbox(client: TestClient, container: Container) -> Any:
    """The sandbox provider calls the webhook through the test client, so the signature check runs for real."""
    provider = container.payments.provider
    provider.sender.deliver = lambda body, headers: (
        client.post("/v1/payments/webhook", content=body, headers=headers).status_code
    )
    return provider


@pytest.fixture
def silent(container: Container) -> Any:
    """A provider that takes payments but never calls back: the test plays the webhook."""
    provider = container.payments.provider
    provider.sender.deliver = lambda body, headers: 202
    return provider


def deposit(
    client: TestClient, headers: dict[str, str], amount: Any, method: str = "UPI", key: str | None = None
) -> Any:
    key_header = {"Idempotency-Key": key or uuid.uuid4().hex}
    return client.post(
        "/v1/payments/deposits", json={"amount": amount, "method": method}, headers={**headers, **key_header}
    )


def wait_for_status(
    client: TestClient, headers: dict[str, str], payment_id: str, timeout: float = 8.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(f"/v1/payments/{payment_id}", headers=headers)
        if answer.status_code == 200 and answer.json()["data"]["status"] != "INITIATED":
            data: dict[str, Any] = answer.json()["data"]
            return data
        assert time.monotonic() < deadline, f"payment {payment_id} still {answer.text}"
        time.sleep(0.05)


def balance(client: TestClient, headers: dict[str, str], position: int | None = None) -> dict[str, Any]:
    query = "" if position is None else f"?min_position={position}"
    answer = client.get(f"/v1/escrow/balance{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def webhook(
    client: TestClient,
    container: Container,
    body: dict[str, Any],
    *,
    at: int | None = None,
    secret: str = DEV_WEBHOOK_SECRET,
) -> Any:
    raw = orjson.dumps(body)
    stamp = int(container.clock.now().timestamp()) if at is None else at
    return client.post("/v1/payments/webhook", content=raw, headers=signed_headers(secret, raw, stamp))


def test_a_deposit_confirmed_by_the_sandbox_webhook_becomes_available(
    client: TestClient, container: Container, sandbox: Any
) -> None:
    investor = bearer(container, funds=None)
    started = deposit(client, investor, "25000.50")
    assert started.status_code == 202, started.text
    assert started.json()["data"]["status"] == "INITIATED"
    assert started.json()["meta"]["position"] > 0
    payment_id = started.json()["data"]["payment_id"]
    settled = wait_for_status(client, investor, payment_id)
    assert settled["status"] == "CONFIRMED" and settled["amount"] == "25000.50" and settled["reference"]
    assert balance(client, investor) == {
        "available": "25000.50",
        "reserved": "0.00",
        "pending_withdrawal": "0.00",
        "currency": "INR",
        "updated_at": balance(client, investor)["updated_at"],
    }


def test_an_amount_ending_in_13_paise_fails_and_credits_nothing(
    client: TestClient, container: Container, sandbox: Any
) -> None:
    investor = bearer(container, funds=None)
    payment_id = deposit(client, investor, "1000.13").json()["data"]["payment_id"]
    failed = wait_for_status(client, investor, payment_id)
    assert failed["status"] == "FAILED" and failed["reason"] == "provider reported FAILED"
    assert balance(client, investor)["available"] == "0.00"


def test_a_balance_before_any_deposit_is_zero(client: TestClient, container: Container) -> None:
    assert balance(client, bearer(container, funds=None))["available"] == "0.00"


def test_a_retry_with_the_same_key_is_replayed_with_the_original_answer(
    client: TestClient, container: Container, sandbox: Any
) -> None:
    investor = bearer(container, funds=None)
    first = deposit(client, investor, "500", key="dep-1")
    again = deposit(client, investor, "500.00", key="dep-1")
    assert again.status_code == 409
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["data"] == first.json()["data"]
    assert again.json()["meta"]["position"] == first.json()["meta"]["position"]
    wait_for_status(client, investor, first.json()["data"]["payment_id"])
    time.sleep(0.5)
    assert balance(client, investor)["available"] == "500.00"
    assert len(sandbox.accepted) == 1


def test_the_same_key_with_another_body_is_refused(
    client: TestClient, container: Container, silent: Any
) -> None:
    investor = bearer(container, funds=None)
    assert deposit(client, investor, "500", key="dep-1").status_code == 202
    other = deposit(client, investor, "501", key="dep-1")
    assert other.status_code == 422 and other.json()["error"]["code"] == "BF-IDEM-002"


def test_a_deposit_without_an_idempotency_key_is_refused(client: TestClient, container: Container) -> None:
    answer = client.post(
        "/v1/payments/deposits", json={"amount": "10", "method": "UPI"}, headers=bearer(container, funds=None)
    )
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "BF-IDEM-001"


def test_the_same_key_for_another_investor_is_another_payment(
    client: TestClient, container: Container, silent: Any
) -> None:
    first = deposit(client, bearer(container, funds=None), "10", key="shared")
    second = deposit(client, bearer(container, funds=None), "10", key="shared")
    assert (
        second.status_code == 202
        and first.json()["data"]["payment_id"] != second.json()["data"]["payment_id"]
    )


def test_a_payment_of_another_investor_is_not_found(
    client: TestClient, container: Container, silent: Any
) -> None:
    payment_id = deposit(client, bearer(container, funds=None), "10").json()["data"]["payment_id"]
    answer = client.get(f"/v1/payments/{payment_id}", headers=bearer(container, funds=None))
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "BF-NF-001"


def test_a_forged_signature_a_stale_timestamp_and_a_replayed_nonce_are_rejected(
    client: TestClient, container: Container, silent: Any
) -> None:
    investor = bearer(container, funds=None)
    payment_id = deposit(client, investor, "700").json()["data"]["payment_id"]
    body = {
        "event_id": "evt-1",
        "payment_id": payment_id,
        "status": "CONFIRMED",
        "reference": "R",
        "amount": "700",
    }
    forged = webhook(client, container, body, secret="not-the-secret")
    stale = webhook(client, container, body, at=int(container.clock.now().timestamp()) - 301)
    raw = orjson.dumps(body)
    headers = signed_headers(DEV_WEBHOOK_SECRET, raw, int(container.clock.now().timestamp()))
    accepted = client.post("/v1/payments/webhook", content=raw, headers=headers)
    replayed = client.post("/v1/payments/webhook", content=raw, headers=headers)
    for rejected in (forged, stale, replayed):
        assert rejected.status_code == 401 and rejected.json()["error"]["code"] == "BF-WH-001", rejected.text
    assert accepted.status_code == 202 and accepted.json()["data"]["applied"] is True
    assert balance(client, investor, accepted.json()["meta"]["position"])["available"] == "700.00"


def test_a_provider_event_delivered_twice_credits_once(
    client: TestClient, container: Container, sandbox: Any
) -> None:
    investor = bearer(container, funds=None)
    payment_id = deposit(client, investor, "1234.56").json()["data"]["payment_id"]
    wait_for_status(client, investor, payment_id)
    assert sandbox.redeliver(payment_id) == 202
    body = orjson.loads(sandbox.sent[payment_id])
    again = webhook(client, container, body)
    assert again.status_code == 202 and again.json()["data"]["applied"] is False
    assert balance(client, investor, again.json()["meta"]["position"])["available"] == "1234.56"


def test_a_confirmation_with_another_amount_is_a_break_that_credits_nothing(
    client: TestClient, container: Container, silent: Any
) -> None:
    investor = bearer(container, funds=None)
    payment_id = deposit(client, investor, "100").json()["data"]["payment_id"]
    body = {
        "event_id": "evt-9",
        "payment_id": payment_id,
        "status": "CONFIRMED",
        "reference": "R",
        "amount": "1000",
    }
    answer = webhook(client, container, body)
    assert answer.status_code == 202 and answer.json()["data"]["status"] == "BROKEN"
    assert balance(client, investor, answer.json()["meta"]["position"])["available"] == "0.00"


@pytest.mark.parametrize("payment_id", ["pay_" + "0" * 32 + "_" + "1" * 32, "unknown", "x" * 128])
def test_a_webhook_for_an_unknown_payment_is_not_found(
    client: TestClient, container: Container, payment_id: str
) -> None:
    body = {
        "event_id": "evt-1",
        "payment_id": payment_id,
        "status": "CONFIRMED",
        "reference": "R",
        "amount": "1",
    }
    answer = webhook(client, container, body)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "BF-NF-001"


def test_a_withdrawal_is_paid_out_and_leaves_the_balance(
    client: TestClient, container: Container, sandbox: Any
) -> None:
    investor = bearer(container, funds=None)
    wait_for_status(client, investor, deposit(client, investor, "90000").json()["data"]["payment_id"])
    key = {"Idempotency-Key": "wd-1"}
    started = client.post("/v1/payments/withdrawals", json={"amount": "30000"}, headers={**investor, **key})
    assert started.status_code == 202, started.text
    replay = client.post("/v1/payments/withdrawals", json={"amount": 30000}, headers={**investor, **key})
    assert replay.status_code == 409 and replay.json()["data"] == started.json()["data"]
    pending = balance(client, investor, started.json()["meta"]["position"])
    assert (pending["available"], pending["pending_withdrawal"]) in {
        ("60000.00", "30000.00"),
        ("60000.00", "0.00"),
    }
    paid = wait_for_status(client, investor, started.json()["data"]["payment_id"])
    assert paid["status"] == "CONFIRMED" and paid["kind"] == "WITHDRAWAL"
    after = balance(client, investor)
    assert (after["available"], after["pending_withdrawal"]) == ("60000.00", "0.00")


def test_a_failed_withdrawal_returns_the_money(
    client: TestClient, container: Container, sandbox: Any
) -> None:
    investor = bearer(container, funds=None)
    wait_for_status(client, investor, deposit(client, investor, "500").json()["data"]["payment_id"])
    started = client.post(
        "/v1/payments/withdrawals",
        json={"amount": "200.13", "method": "UPI"},
        headers={**investor, "Idempotency-Key": "wd-1"},
    )
    failed = wait_for_status(client, investor, started.json()["data"]["payment_id"])
    assert failed["status"] == "FAILED"
    assert balance(client, investor)["available"] == "500.00"


def test_withdrawing_more_than_available_is_refused(client: TestClient, container: Container) -> None:
    answer = client.post(
        "/v1/payments/withdrawals",
        json={"amount": "1"},
        headers={**bearer(container, funds=None), "Idempotency-Key": "wd-1"},
    )
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "BF-ORD-007"
    assert answer.json()["error"]["details"] == {"available": "0.00", "required": "1.00"}


def test_a_refused_initiation_fails_the_payment_and_a_timeout_is_retried_with_the_same_key(
    client: TestClient, container: Container, sandbox: Any
) -> None:
    investor = bearer(container, funds=None)
    sandbox.faults.set("fail_next")
    refused = wait_for_status(client, investor, deposit(client, investor, "10").json()["data"]["payment_id"])
    assert refused["status"] == "FAILED" and refused["reason"].startswith("BF-PAY-006")
    sandbox.faults.set("timeout_next")
    retried = wait_for_status(client, investor, deposit(client, investor, "20").json()["data"]["payment_id"])
    assert retried["status"] == "CONFIRMED"
    assert balance(client, investor)["available"] == "20.00"


def test_payments_need_the_payments_scopes(client: TestClient, container: Container) -> None:
    from bondflow.security.principal import Role

    ops = bearer(container, Role.OPS)
    answer = client.post(
        "/v1/payments/deposits",
        json={"amount": "10", "method": "UPI"},
        headers={**ops, "Idempotency-Key": "k"},
    )
    assert answer.status_code == 403
    assert client.get("/v1/escrow/balance", headers=ops).status_code == 403


@pytest.mark.parametrize(
    "raw",
    [
        b'{"amount": 10.123, "method": "UPI"}',
        b'{"amount": "10.001", "method": "UPI"}',
        b'{"amount": 1e400, "method": "UPI"}',
        b'{"amount": "' + b"9" * 60 + b'", "method": "NEFT"}',
        b'{"amount": 1' + b"0" * 40 + b', "method": "NEFT"}',
        b'{"amount": true, "method": "UPI"}',
        b'{"amount": null, "method": "UPI"}',
        b'{"amount": [10], "method": "UPI"}',
        b'{"amount": "NaN", "method": "UPI"}',
        b'{"amount": NaN, "method": "UPI"}',
        b'{"amount": "-5", "method": "UPI"}',
        b'{"amount": "0", "method": "UPI"}',
        b'{"amount": "100", "method": "CASH"}',
        b'{"amount": "100", "method": 7}',
        b'{"amount": "100"}',
        b'{"method": "UPI"}',
        b'{"amount": "100", "method": "UPI", "extra": 1}',
        b'{"amount": "150000", "method": "UPI"}',
        b'{"amount": "1000", "method": "RTGS"}',
        b'{"amount": "100", "method": "UPI"',
        b"[]",
    ],
)
def test_malformed_deposits_are_refused_as_bad_requests(
    client: TestClient, container: Container, raw: bytes
) -> None:
    headers = {**bearer(container, funds=None), "Idempotency-Key": "k", "Content-Type": "application/json"}
    answer = client.post("/v1/payments/deposits", content=raw, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "BF-REQ-001"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"event_id": "e"}',
        b'{"event_id": 1, "payment_id": "p", "status": "CONFIRMED", "amount": "1"}',
        b'{"event_id": "e", "payment_id": "p", "status": "MAYBE", "amount": "1"}',
        b'{"event_id": "e", "payment_id": "p", "status": "CONFIRMED", "amount": 1.001}',
        b'{"event_id": "e", "payment_id": "p", "status": "CONFIRMED", "amount": "1", "x": 1}',
    ],
)
def test_a_signed_but_malformed_webhook_is_a_bad_request(
    client: TestClient, container: Container, raw: bytes
) -> None:
    headers = signed_headers(DEV_WEBHOOK_SECRET, raw, int(container.clock.now().timestamp()))
    answer = client.post("/v1/payments/webhook", content=raw, headers=headers)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "BF-REQ-001", answer.text


def test_payment_events_reach_the_regulator_stream_without_personal_data(
    client: TestClient, container: Container, sandbox: Any
) -> None:
    from bondflow.security.principal import Role

    investor = bearer(container, funds=None)
    payment_id = deposit(client, investor, "42.00").json()["data"]["payment_id"]
    wait_for_status(client, investor, payment_id)
    regulator = bearer(container, Role.REGULATOR)
    deadline = time.monotonic() + 8
    while True:
        events = client.get("/v1/regulator/events?limit=1000", headers=regulator).json()["data"]
        mine = [e for e in events if e["payload"].get("payment_id") == payment_id]
        if len(mine) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert [(e["topic"], e["event_type"]) for e in mine] == [
        ("payment.instruction.v1", "EscrowAccount.DepositInitiated"),
        ("payment.status.v1", "EscrowAccount.PaymentConfirmed"),
    ]
    assert mine[1]["payload"]["amount"] == "42.00"
