"""Sign up, log in, start KYC, and let the sandbox provider's signed webhook decide — over HTTP."""

from __future__ import annotations

import time
import uuid

import pytest
from fastapi.testclient import TestClient

from bondflow.adapters.kyc_port import KycRequest
from bondflow.domain.consent import KYC_PURPOSE, Consent, consent_id_for
from bondflow.runtime.followers import Positioned, wait_for_position
from bondflow.wiring.container import Container
from tests.support.investors import (
    GOOD_PAN,
    REJECTED_PAN,
    route_webhooks_through,
    signed_up_investor,
    wait_for_kyc,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def kyc_client(container: Container, client: TestClient) -> TestClient:
    route_webhooks_through(container, client)
    return client


def test_an_investor_signs_up_logs_in_and_is_verified_by_the_providers_webhook(
    kyc_client: TestClient, container: Container
) -> None:
    _email, headers, _user_id = signed_up_investor(kyc_client)
    assert kyc_client.get("/v1/kyc/status", headers=headers).json()["data"]["status"] == "not_started"
    started = kyc_client.post(
        "/v1/kyc/start", json={"pan": GOOD_PAN, "aadhaar_last4": "1234", "consent": True}, headers=headers
    )
    assert started.status_code == 202, started.text
    assert started.json()["data"]["status"] == "pending"
    assert started.json()["data"]["process_token"].startswith("kyc_")
    status = wait_for_kyc(kyc_client, headers, "verified")
    assert status["status"] == "verified"
    assert status["tier"] == "full"
    assert status["kra_ref"].startswith("KRA")
    me = kyc_client.get(
        "/v1/users/me", headers=headers, params={"min_position": container.store.head_position()}
    )
    assert me.json()["data"]["status"] == "active"
    assert me.json()["data"]["kyc"] == {"status": "verified", "tier": "full"}


def test_a_pan_whose_digits_are_0000_ends_rejected(kyc_client: TestClient) -> None:
    _email, headers, _user_id = signed_up_investor(kyc_client)
    started = kyc_client.post("/v1/kyc/start", json={"pan": REJECTED_PAN, "consent": True}, headers=headers)
    assert started.status_code == 202, started.text
    status = wait_for_kyc(kyc_client, headers, "rejected")
    assert status["status"] == "rejected"
    assert status["tier"] is None


def test_a_rejected_investor_can_start_again_and_gets_a_new_process_token(kyc_client: TestClient) -> None:
    _email, headers, _user_id = signed_up_investor(kyc_client)
    first = kyc_client.post("/v1/kyc/start", json={"pan": REJECTED_PAN, "consent": True}, headers=headers)
    wait_for_kyc(kyc_client, headers, "rejected")
    second = kyc_client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    assert second.status_code == 202
    assert second.json()["data"]["process_token"] != first.json()["data"]["process_token"]
    status = wait_for_kyc(kyc_client, headers, "verified")
    assert (status["status"], status["tier"]) == ("verified", "basic")


def test_starting_again_while_pending_changes_nothing_and_calls_the_provider_once(
    client: TestClient, container: Container
) -> None:
    container.investors.kyc_provider.sender.deliver = lambda body, headers: 202  # the provider stays silent
    _email, headers, _user_id = signed_up_investor(client)
    first = client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    head = container.store.head_position()
    again = client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    assert again.status_code == 202
    assert again.json()["data"] == first.json()["data"]
    assert container.store.head_position() == head  # nothing written
    wait_for_provider_calls(container, 1)
    assert len(container.investors.kyc_provider.accepted) == 1


def test_the_effect_worker_replaying_a_start_event_calls_the_provider_no_second_time(
    client: TestClient, container: Container
) -> None:
    container.investors.kyc_provider.sender.deliver = lambda body, headers: 202
    _email, headers, user_id = signed_up_investor(client)
    client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    wait_for_provider_calls(container, 1)
    case = container.investors.attributes.kyc_case(uuid.UUID(user_id))
    assert case is not None
    started = next(iter(container.store.events.get(case.id)))
    worker = container.followers["kyc_effects"].follower
    worker.process([Positioned(started, 1)], 1)  # an at-least-once redelivery of the same event
    provider = container.investors.kyc_provider
    key = provider.accepted[0]
    provider.start(KycRequest(case.process_token, GOOD_PAN, None, key))  # even with the PAN again
    assert provider.accepted == [key]


def test_kyc_start_records_consent_with_its_purpose_and_keeps_only_a_pan_hash(
    kyc_client: TestClient, container: Container
) -> None:
    _email, headers, user_id = signed_up_investor(kyc_client)
    kyc_client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    consent: object = container.store.repository.get(consent_id_for(uuid.UUID(user_id), KYC_PURPOSE))
    assert isinstance(consent, Consent)
    assert consent.purposes == ["kyc_verification"]
    assert len(consent.consent_hash) == 64
    case = container.investors.attributes.kyc_case(uuid.UUID(user_id))
    assert case is not None
    assert case.pan_hash == container.investors.vault.lookup_hash("pan", GOOD_PAN)
    assert GOOD_PAN not in repr(case.__dict__)


@pytest.mark.parametrize(
    "body",
    [
        {"pan": GOOD_PAN, "consent": False},
        {"pan": GOOD_PAN},
        {"pan": GOOD_PAN, "consent": "yes"},
        {"pan": "abcpe1234f", "consent": True},
        {"pan": "ABCPE12345", "consent": True},
        {"pan": GOOD_PAN, "consent": True, "aadhaar_last4": 1234},
        {"pan": GOOD_PAN, "consent": True, "aadhaar_last4": "12345"},
        {"pan": GOOD_PAN, "consent": True, "name": "x"},
    ],
)
def test_kyc_start_refuses_a_bad_pan_or_missing_consent_with_400(
    client: TestClient, container: Container, body: dict[str, object]
) -> None:
    _email, headers, _user_id = signed_up_investor(client)
    before = container.store.head_position()
    response = client.post("/v1/kyc/start", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BF-REQ-001"
    assert container.store.head_position() == before


def wait_for_provider_calls(container: Container, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(container.investors.kyc_provider.accepted) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # and a moment more, in case a second call were (wrongly) on its way


def test_a_provider_outage_is_retried_by_the_effect_worker_until_verified(
    kyc_client: TestClient, container: Container
) -> None:
    container.faults["kyc"].set("fail_next")
    _email, headers, _user_id = signed_up_investor(kyc_client)
    kyc_client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    assert wait_for_kyc(kyc_client, headers, "verified")["status"] == "verified"
    assert len(container.investors.kyc_provider.accepted) == 1


def test_revoking_consent_before_the_provider_call_deletes_the_pan_and_a_new_start_asks_again(
    kyc_client: TestClient, container: Container
) -> None:
    container.followers["kyc_effects"].stop()  # the effect worker is down: the PAN waits in the handoff
    container.running.remove("kyc_effects")
    _email, headers, user_id = signed_up_investor(kyc_client)
    started = kyc_client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    first_token = started.json()["data"]["process_token"]
    revoked = kyc_client.post("/v1/users/me/consents/kyc_verification/revoke", headers=headers)
    assert revoked.status_code == 202, revoked.text
    assert revoked.json()["data"]["active"] is False
    consent_events = [
        type(e).__qualname__
        for e in container.store.events.get(consent_id_for(uuid.UUID(user_id), KYC_PURPOSE))
    ]
    assert consent_events == ["Consent.Granted", "Consent.Revoked"]
    with container.db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM kyc_handoff").fetchone() == (0,)  # the PAN is gone
    head = container.store.head_position()
    again = kyc_client.post("/v1/users/me/consents/kyc_verification/revoke", headers=headers)
    assert again.status_code == 202 and container.store.head_position() == head  # once is enough
    unknown = kyc_client.post("/v1/users/me/consents/marketing/revoke", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "BF-NF-001"

    stopped = container.followers["kyc_effects"]
    container.followers["kyc_effects"] = type(stopped)(stopped.follower, container.store, container.db)
    container.start_followers(["kyc_effects"])  # a fresh runner from the recorded position
    head = container.store.head_position()
    assert wait_for_position(container.followers["kyc_effects"].follower.position, head, timeout=10)
    assert container.investors.kyc_provider.accepted == []  # the withdrawn request was never sent
    restarted = kyc_client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    assert restarted.status_code == 202, restarted.text
    assert restarted.json()["data"]["process_token"] != first_token  # a fresh attempt under the new consent
    assert wait_for_kyc(kyc_client, headers, "verified")["status"] == "verified"
    assert len(container.investors.kyc_provider.accepted) == 1
    consent_events = [
        type(e).__qualname__
        for e in container.store.events.get(consent_id_for(uuid.UUID(user_id), KYC_PURPOSE))
    ]
    assert consent_events == ["Consent.Granted", "Consent.Revoked", "Consent.Regranted"]
