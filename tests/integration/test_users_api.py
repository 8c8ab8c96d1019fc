"""Sign-up, login and the profile over HTTP: validation, duplicates, constant-cost logins, rate limits,
and the role, scope and attribute checks (each test fails if its check is removed)."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from bondflow.runtime.clock import ManualClock
from bondflow.security.passwords import Passwords
from bondflow.security.principal import ROLE_SCOPES, Role
from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.support.investors import (
    GOOD_PAN,
    PASSWORD,
    log_in,
    new_email,
    route_webhooks_through,
    sign_up,
    signed_up_investor,
    wait_for_kyc,
)

pytestmark = pytest.mark.integration


def test_sign_up_answers_201_pending_and_the_profile_shows_the_decrypted_fields(
    client: TestClient, container: Container
) -> None:
    email = new_email()
    created = sign_up(client, email, phone="+919812345678", residency="IN", investor_category="hni")
    assert created.status_code == 201, created.text
    assert created.json()["data"]["status"] == "pending"
    token = log_in(client, email).json()["data"]
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == container.settings.token_ttl_seconds
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    me = client.get(
        "/v1/users/me", params={"min_position": created.json()["meta"]["position"]}, headers=headers
    )
    assert me.status_code == 200, me.text
    profile = me.json()["data"]
    assert profile["user_id"] == created.json()["data"]["user_id"]
    assert (profile["email"], profile["phone"]) == (email, "+919812345678")
    assert (profile["residency"], profile["investor_category"], profile["role"]) == ("IN", "hni", "investor")
    assert profile["kyc"] == {"status": "not_started", "tier": None}


def test_a_second_sign_up_with_the_same_email_is_409_bf_usr_001_whatever_its_case(client: TestClient) -> None:
    email = new_email()
    assert sign_up(client, email).status_code == 201
    again = sign_up(client, email.upper(), password="another password entirely")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "BF-USR-001"


def test_concurrent_sign_ups_with_one_email_create_exactly_one_user(
    client: TestClient, container: Container
) -> None:
    email, threads = new_email(), 6
    barrier = threading.Barrier(threads)
    statuses: list[int] = []

    def attempt() -> None:
        barrier.wait()
        statuses.append(sign_up(client, email).status_code)

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert Counter(statuses) == {201: 1, 409: threads - 1}
    assert log_in(client, email).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "a@b", "password": PASSWORD},
        {"email": 42, "password": PASSWORD},
        {"email": "x@example.in", "password": "short pass"},
        {"email": "x@example.in", "password": "p" * 1025},
        {"email": "x@example.in", "password": PASSWORD, "phone": "9812345678"},
        {"email": "x@example.in", "password": PASSWORD, "residency": "India"},
        {"email": "x@example.in", "password": PASSWORD, "investor_category": "whale"},
        {"email": "x@example.in", "password": PASSWORD, "role": "admin"},
        {"password": PASSWORD},
    ],
)
def test_sign_up_refuses_invalid_fields_with_400_and_writes_nothing(
    client: TestClient, container: Container, body: dict[str, Any]
) -> None:
    before = container.store.head_position()
    response = client.post("/v1/users", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BF-REQ-001"
    assert container.store.head_position() == before


def test_login_with_a_wrong_password_or_an_unknown_email_is_the_same_401(client: TestClient) -> None:
    email = new_email()
    sign_up(client, email)
    wrong = log_in(client, email, "not the right password")
    unknown = log_in(client, new_email())
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["error"] == {
            "code": "BF-AUTH-001",
            "message": "wrong email or password",
            "details": {},
        }


def test_login_costs_one_argon2id_verification_whether_or_not_the_email_exists(
    client: TestClient, container: Container
) -> None:
    email = new_email()
    sign_up(client, email)
    calls: list[str | None] = []
    real = Passwords.verify

    def counting(self: Passwords, stored_hash: str | None, password: str) -> bool:
        calls.append(stored_hash)
        return real(self, stored_hash, password)

    passwords = container.investors.users.passwords
    passwords.verify = counting.__get__(passwords)  # type: ignore[method-assign]
    log_in(client, email, "not the right password")
    log_in(client, new_email(), "not the right password")
    log_in(client, "not-even-an-email", "not the right password")
    assert len(calls) == 3
    assert calls[0] is not None and calls[0].startswith("$argon2id$")
    assert calls[1] is None and calls[2] is None  # verified against the dummy hash, same cost


def freeze_login_limits(container: Container) -> ManualClock:
    clock = ManualClock(datetime(2026, 11, 23, 10, tzinfo=UTC))
    container.investors.users.limits.buckets.clock = clock
    return clock


def test_logins_are_rate_limited_per_account_with_retry_after(
    client: TestClient, container: Container
) -> None:
    clock = freeze_login_limits(container)
    email = new_email()
    sign_up(client, email)
    limit = container.settings.login_attempts_per_account_ip_per_minute
    answers = [log_in(client, email, "wrong password!!").status_code for _ in range(limit)]
    assert answers == [401] * limit
    limited = log_in(client, email)  # even the right password waits
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "BF-RATE-001"
    assert int(limited.headers["Retry-After"]) >= 1
    assert log_in(client, new_email()).status_code == 401  # another account is not limited
    clock.advance(timedelta(seconds=int(limited.headers["Retry-After"])))
    assert log_in(client, email).status_code == 200


def test_logins_are_rate_limited_per_ip(client: TestClient, container: Container) -> None:
    freeze_login_limits(container)
    limit = container.settings.login_attempts_per_ip_per_minute
    statuses = Counter(log_in(client, f"{uuid.uuid4().hex}@example.in").status_code for _ in range(limit + 1))
    assert statuses == {401: limit, 429: 1}


def test_a_login_token_carries_the_investor_role_scopes_and_attributes(
    client: TestClient, container: Container
) -> None:
    email = new_email()
    user_id = sign_up(client, email, residency="IN", investor_category="retail").json()["data"]["user_id"]
    body = log_in(client, email).json()["data"]
    assert body["scope"] == " ".join(sorted(ROLE_SCOPES[Role.INVESTOR]))
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["role"]) == (user_id, "investor")
    assert claims["attrs"] == {"residency": "IN", "investor_category": "retail", "kyc_status": "not_started"}
    principal = container.tokens.verify(body["access_token"])
    assert principal.role is Role.INVESTOR
    assert "kyc:write" in principal.scopes and "users:admin" not in principal.scopes


def test_the_profile_needs_a_token_and_a_user_account(client: TestClient, container: Container) -> None:
    assert client.get("/v1/users/me").status_code == 401
    staff = client.get("/v1/users/me", headers=bearer(container, Role.OPS, "op-1"))
    assert staff.status_code == 404


def test_kyc_start_needs_the_kyc_write_scope(client: TestClient, container: Container) -> None:
    _email, _headers, user_id = signed_up_investor(client)
    regulator = bearer(container, Role.REGULATOR, user_id)  # same subject, a role without kyc:write
    refused = client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=regulator)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "BF-AUTH-002"
    assert refused.json()["error"]["details"] == {"required_scope": "kyc:write"}
    assert client.get("/v1/kyc/status", headers=regulator).status_code == 403


def test_kyc_start_checks_the_residency_attribute(client: TestClient, container: Container) -> None:
    _email, headers, _user_id = signed_up_investor(client, residency="AE")
    refused = client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "BF-KYC-002"
    assert refused.json()["error"]["details"]["attribute"] == "residency"


def test_only_the_admin_role_approves_kyc_manually_and_never_their_own(
    client: TestClient, container: Container
) -> None:
    container.investors.kyc_provider.sender.deliver = lambda body, headers: 202  # the provider stays silent
    _email, headers, user_id = signed_up_investor(client)
    client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    approval = {"tier": "full", "reason": "documents checked by hand"}
    as_investor = client.post(f"/v1/admin/kyc/{user_id}/approve", json=approval, headers=headers)
    assert as_investor.status_code == 403
    assert as_investor.json()["error"]["details"] == {"required_scope": "users:admin"}
    own = client.post(
        f"/v1/admin/kyc/{user_id}/approve", json=approval, headers=bearer(container, Role.ADMIN, user_id)
    )
    assert own.status_code == 403
    assert own.json()["error"]["details"] == {"rule": "no_self_kyc_approval"}
    admin = bearer(container, Role.ADMIN, "admin-7")
    approved = client.post(f"/v1/admin/kyc/{user_id}/approve", json=approval, headers=admin)
    assert approved.status_code == 202, approved.text
    assert approved.json()["data"]["status"] == "verified"
    status = client.get(
        "/v1/kyc/status", params={"min_position": approved.json()["meta"]["position"]}, headers=headers
    )
    assert (status.json()["data"]["status"], status.json()["data"]["tier"]) == ("verified", "full")


def test_attributes_for_checks_are_read_fresh_not_from_the_token(
    client: TestClient, container: Container
) -> None:
    route_webhooks_through(container, client)
    _email, headers, _user_id = signed_up_investor(client)  # token minted before KYC
    client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    wait_for_kyc(client, headers, "verified")
    principal = container.tokens.verify(headers["Authorization"].split()[1])
    assert principal.attributes["kyc_status"] == "not_started"
    fresh = container.investors.attributes.of(principal)
    assert (fresh.kyc_status, fresh.kyc_tier) == ("verified", "basic")
