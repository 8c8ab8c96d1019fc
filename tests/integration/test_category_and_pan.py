"""A declared investor category counts only with evidence (the KYC provider's answer or another admin's
approval); one PAN, one verified account (`409 BF-KYC-003`, the PAN never shown)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from bondflow.security.principal import Role
from bondflow.security.webhooks import signed_headers
from bondflow.settings import DEV_WEBHOOK_SECRET
from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.support.investors import GOOD_PAN, log_in, signed_up_investor

pytestmark = pytest.mark.integration


@pytest.fixture
def silent_provider(container: Container) -> None:
    """The sandbox provider stays silent: each test plays the provider's signed answers itself."""
    container.investors.kyc_provider.sender.deliver = lambda body, headers: 202


def start(client: TestClient, headers: dict[str, str], pan: str = GOOD_PAN) -> Any:
    return client.post("/v1/kyc/start", json={"pan": pan, "consent": True}, headers=headers)


def provider_says(client: TestClient, container: Container, token: str, **extra: str) -> Any:
    body = orjson.dumps(
        {
            "event_id": f"evt_{uuid.uuid4().hex}",
            "process_token": token,
            "status": "verified",
            "tier": "basic",
            **extra,
        }
    )
    headers = signed_headers(DEV_WEBHOOK_SECRET, body, int(container.clock.now().timestamp()))
    return client.post("/v1/kyc/webhook", content=body, headers=headers)


def category(container: Container, user_id: str) -> str | None:
    user = container.investors.users.own_user(user_id)
    return container.investors.attributes.of_user(user).investor_category


def token_category(client: TestClient, container: Container, email: str) -> str:
    token = log_in(client, email).json()["data"]["access_token"]
    return container.tokens.verify(token).attributes["investor_category"]


def test_a_declared_category_needs_another_admins_approval(
    client: TestClient, container: Container, silent_provider: None
) -> None:
    email, headers, user_id = signed_up_investor(client, investor_category="hni")
    assert (
        provider_says(client, container, start(client, headers).json()["data"]["process_token"]).status_code
        == 202
    )
    assert category(container, user_id) == "retail"  # declared hni, no evidence yet
    assert token_category(client, container, email) == "retail"

    path = f"/v1/admin/users/{user_id}/investor-category"
    body = {"investor_category": "hni", "reason": "net worth certificate checked"}
    own = client.post(path, json=body, headers=bearer(container, Role.ADMIN, user_id))
    assert own.status_code == 403 and own.json()["error"]["details"]["rule"] == "no_self_category_approval"
    assert client.post(path, json=body, headers=headers).status_code == 403  # an investor has no users:admin
    approved = client.post(path, json=body, headers=bearer(container, Role.ADMIN, "admin-2"))
    assert approved.status_code == 202, approved.text
    assert approved.json()["data"]["investor_category"] == "hni"
    assert category(container, user_id) == "hni"
    assert token_category(client, container, email) == "hni"


def test_the_kyc_providers_answer_is_evidence(
    client: TestClient, container: Container, silent_provider: None
) -> None:
    _email, headers, user_id = signed_up_investor(client, investor_category="institutional")
    token = start(client, headers).json()["data"]["process_token"]
    assert provider_says(client, container, token, investor_category="institutional").status_code == 202
    assert category(container, user_id) == "institutional"


def test_one_pan_one_verified_account(
    client: TestClient, container: Container, silent_provider: None
) -> None:
    _e1, first, first_id = signed_up_investor(client)
    _e2, second, second_id = signed_up_investor(client)
    _e3, third, _third_id = signed_up_investor(client)
    first_token = start(client, first).json()["data"]["process_token"]
    second_token = start(client, second).json()["data"]["process_token"]  # both pending with one PAN
    assert provider_says(client, container, first_token).status_code == 202
    assert provider_says(client, container, second_token).status_code == 202
    statuses = {
        uid: container.investors.attributes.kyc_case(uuid.UUID(uid)).status.value  # type: ignore[union-attr]
        for uid in (first_id, second_id)
    }
    assert statuses == {first_id: "verified", second_id: "rejected"}

    refused = start(client, third)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "BF-KYC-003"
    assert error["details"] == {"rule": "one_pan_one_verified_account"}
    assert GOOD_PAN not in refused.text
    assert start(client, third, "ABCPE5678F").status_code == 202  # their own PAN is fine
