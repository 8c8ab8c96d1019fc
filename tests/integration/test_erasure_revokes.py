"""Erasing an account revokes its tokens at once (no more orders or withdrawals) and frees its email:
the same address signs up again as a new user."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from fastapi.testclient import TestClient

from bondflow.wiring.container import Container
from tests.conftest import fund
from tests.support.investors import log_in, sign_up, signed_up_investor


def test_an_erased_accounts_token_is_refused_everywhere(client: TestClient, container: Container) -> None:
    _email, headers, user_id = signed_up_investor(client)
    fund(container, user_id, Decimal(100_000))
    assert client.get("/v1/escrow/balance", headers=headers).status_code == 200
    assert client.post("/v1/users/me/erase", headers=headers).status_code == 202

    order = {"isin": "INE123A07043", "side": "BUY", "qty": "1"}
    placed = client.post("/v1/orders", json=order, headers={**headers, "Idempotency-Key": "after-erase"})
    withdrawal = client.post(
        "/v1/payments/withdrawals",
        json={"amount": "100", "method": "NEFT"},
        headers={**headers, "Idempotency-Key": "w-after-erase"},
    )
    for answer in (placed, withdrawal, client.get("/v1/orders", headers=headers)):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "BF-AUTH-001"


def test_an_erased_email_signs_up_again_as_a_new_user(client: TestClient, container: Container) -> None:
    email, headers, old_id = signed_up_investor(client)
    assert sign_up(client, email).status_code == 409  # taken while the account lives
    assert client.post("/v1/users/me/erase", headers=headers).status_code == 202
    assert log_in(client, email).status_code == 401

    again = sign_up(client, email)
    assert again.status_code == 201, again.text
    new_id = again.json()["data"]["user_id"]
    assert new_id != old_id
    token = log_in(client, email)
    assert token.status_code == 200
    me = client.get(
        "/v1/users/me", headers={"Authorization": f"Bearer {token.json()['data']['access_token']}"}
    )
    assert me.status_code == 200 and me.json()["data"]["user_id"] == new_id
    assert sign_up(client, email).status_code == 409  # and the new account holds it now
    with container.db.cursor() as cur:
        owners = cur.execute("SELECT user_id FROM email_accounts").fetchall()
    assert UUID(old_id) not in {row[0] for row in owners}
