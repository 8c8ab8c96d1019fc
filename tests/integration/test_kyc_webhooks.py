"""The KYC webhook accepts only fresh, authentic, first-seen deliveries, and a provider event has one effect."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from bondflow.domain.kyc import KycCase
from bondflow.security.webhooks import signature, signed_headers
from bondflow.settings import DEV_WEBHOOK_SECRET
from bondflow.wiring.container import Container
from tests.support.investors import GOOD_PAN, signed_up_investor

pytestmark = pytest.mark.integration


@pytest.fixture
def pending(client: TestClient, container: Container) -> tuple[dict[str, str], str, str]:
    """An investor whose KYC is pending; the sandbox provider stays silent so the test plays it."""
    container.investors.kyc_provider.sender.deliver = lambda body, headers: 202
    _email, headers, user_id = signed_up_investor(client)
    started = client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    return headers, user_id, started.json()["data"]["process_token"]


def result(process_token: str, event_id: str = "evt_1", status: str = "verified") -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "process_token": process_token,
            "status": status,
            "tier": "basic" if status == "verified" else None,
            "kra_ref": "KRA0001",
            "ckyc_no": "12345678901234",
        }
    )


def post(client: TestClient, body: bytes, headers: dict[str, str]) -> Any:
    return client.post("/v1/kyc/webhook", content=body, headers=headers)


def now(container: Container) -> int:
    return int(container.clock.now().timestamp())


def kyc_events(container: Container, user_id: str) -> list[str]:
    case = container.investors.attributes.kyc_case(uuid.UUID(user_id))
    assert isinstance(case, KycCase)
    return [type(e).__name__ for e in container.store.events.get(case.id)]


def test_a_correctly_signed_webhook_verifies_the_case(
    client: TestClient, container: Container, pending: tuple[dict[str, str], str, str]
) -> None:
    _headers, user_id, token = pending
    body = result(token)
    answer = post(client, body, signed_headers(DEV_WEBHOOK_SECRET, body, now(container)))
    assert answer.status_code == 202, answer.text
    assert answer.json()["data"]["applied"] is True
    assert kyc_events(container, user_id) == ["Started", "Verified"]


def test_a_forged_signature_is_refused_with_401_and_changes_nothing(
    client: TestClient, container: Container, pending: tuple[dict[str, str], str, str]
) -> None:
    _headers, user_id, token = pending
    body = result(token)
    headers = signed_headers("not-the-secret", body, now(container))
    answer = post(client, body, headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "BF-WH-001"
    tampered = signed_headers(DEV_WEBHOOK_SECRET, body, now(container))
    answer = post(client, result(token, status="rejected"), tampered)  # body changed after signing
    assert answer.status_code == 401
    assert kyc_events(container, user_id) == ["Started"]


def test_a_stale_timestamp_is_refused_even_with_a_valid_signature(
    client: TestClient, container: Container, pending: tuple[dict[str, str], str, str]
) -> None:
    _headers, user_id, token = pending
    body = result(token)
    for skew in (-301, 301):
        answer = post(client, body, signed_headers(DEV_WEBHOOK_SECRET, body, now(container) + skew))
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "BF-WH-001"
        assert "window" in answer.json()["error"]["message"]
    within = post(client, body, signed_headers(DEV_WEBHOOK_SECRET, body, now(container) - 290))
    assert within.status_code == 202
    assert kyc_events(container, user_id) == ["Started", "Verified"]


def test_a_replayed_nonce_is_refused(
    client: TestClient, container: Container, pending: tuple[dict[str, str], str, str]
) -> None:
    _headers, _user_id, token = pending
    body = result(token)
    headers = signed_headers(DEV_WEBHOOK_SECRET, body, now(container))
    assert post(client, body, headers).status_code == 202
    replay = post(client, body, headers)
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "BF-WH-001"
    assert "nonce" in replay.json()["error"]["message"]


def test_a_provider_event_delivered_twice_has_one_effect(
    client: TestClient, container: Container, pending: tuple[dict[str, str], str, str]
) -> None:
    _headers, user_id, token = pending
    body = result(token, event_id="evt_twice")
    first = post(client, body, signed_headers(DEV_WEBHOOK_SECRET, body, now(container)))
    head = container.store.head_position()
    second = post(client, body, signed_headers(DEV_WEBHOOK_SECRET, body, now(container)))  # fresh nonce
    assert first.status_code == second.status_code == 202
    assert (first.json()["data"]["applied"], second.json()["data"]["applied"]) == (True, False)
    assert second.json()["meta"]["position"] == first.json()["meta"]["position"] - 1  # the case's event
    assert container.store.head_position() == head
    assert kyc_events(container, user_id) == ["Started", "Verified"]
    late = result(
        token, event_id="evt_other", status="rejected"
    )  # a contradicting late event changes nothing
    answer = post(client, late, signed_headers(DEV_WEBHOOK_SECRET, late, now(container)))
    assert answer.json()["data"] == {
        "event_id": "evt_other",
        "process_token": token,
        "status": "verified",
        "applied": False,
    }
    assert kyc_events(container, user_id) == ["Started", "Verified"]


def test_the_sandbox_redelivering_its_event_has_one_effect(
    client: TestClient, container: Container, pending: tuple[dict[str, str], str, str]
) -> None:
    _headers, user_id, token = pending
    provider = container.investors.kyc_provider
    provider.sender.deliver = lambda body, headers: post(client, body, headers).status_code
    deadline = time.monotonic() + 10
    while token not in provider.sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert provider.redeliver(token) == 202
    assert provider.redeliver(token) == 202
    assert kyc_events(container, user_id) == ["Started", "Verified"]


def test_a_rotated_secret_list_accepts_the_old_and_the_new_secret(
    client: TestClient, container: Container, pending: tuple[dict[str, str], str, str]
) -> None:
    _headers, _user_id, token = pending
    verifier = container.investors.kyc.verifier
    verifier.secrets = ["new-secret-0123456789abcdef0123456789", DEV_WEBHOOK_SECRET]
    body = result(token)
    assert post(client, body, signed_headers(DEV_WEBHOOK_SECRET, body, now(container))).status_code == 202
    other = result(token, event_id="evt_2")
    new = signed_headers("new-secret-0123456789abcdef0123456789", other, now(container))
    assert post(client, other, new).status_code == 202


@pytest.mark.parametrize("drop", ["X-BF-Timestamp", "X-BF-Nonce", "X-BF-Signature"])
def test_a_webhook_missing_a_signature_header_is_refused(
    client: TestClient, container: Container, pending: tuple[dict[str, str], str, str], drop: str
) -> None:
    _headers, _user_id, token = pending
    body = result(token)
    headers = signed_headers(DEV_WEBHOOK_SECRET, body, now(container))
    del headers[drop]
    assert post(client, body, headers).json()["error"]["code"] == "BF-WH-001"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[]", 400),
        (b'{"event_id": "e", "process_token": "kyc_x_1", "status": "maybe"}', 400),
        (b'{"event_id": "e", "process_token": "kyc_' + b"0" * 32 + b'_1", "status": "verified"}', 404),
        (b'{"event_id": "", "process_token": "t", "status": "verified"}', 400),
    ],
)
def test_a_signed_but_malformed_or_unknown_webhook_is_a_4xx_never_a_5xx(
    client: TestClient, container: Container, body: bytes, status: int
) -> None:
    answer = post(client, body, signed_headers(DEV_WEBHOOK_SECRET, body, now(container)))
    assert answer.status_code == status, answer.text


def test_the_signature_is_api_md_s_hmac_over_timestamp_nonce_and_raw_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"s3cret", b"1700000000.abcdefgh.{}", hashlib.sha256).hexdigest()
    assert signature("s3cret", "1700000000", "abcdefgh", b"{}") == f"v1={expected}"
