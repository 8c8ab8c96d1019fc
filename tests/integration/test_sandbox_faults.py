"""The sandbox's fault switches over HTTP, for every target: they live in PostgreSQL (another process's
adapters see them), each target takes only the modes it honours, and each fault has its effect — the venue
down or declining, KYC rejecting or delivering twice (the chain's stall: test_settlement's BF-SET-007 test)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import SharedFaults
from bondflow.domain.kyc import KycCase, case_id_for
from bondflow.security.principal import Role
from bondflow.settings import Settings
from bondflow.wiring.container import Container
from bondflow.workers.execution import IOC_REASON, VENUE_DOWN_REASON
from tests.conftest import bearer
from tests.integration.test_settlement import buy, eventually, money, order_in
from tests.support.investors import GOOD_PAN, route_webhooks_through, signed_up_investor, wait_for_kyc

pytestmark = pytest.mark.integration


def switch(client: TestClient, container: Container, **body: object) -> None:
    answer = client.post("/v1/sandbox/faults", json=body, headers=bearer(container, Role.ADMIN))
    assert answer.status_code == 202, answer.text


def test_switches_are_listed_validated_per_target_and_shared_through_postgresql(
    client: TestClient, container: Container, settings: Settings
) -> None:
    admin = bearer(container, Role.ADMIN)
    switch(client, container, target="chain", mode="stall_rate", value="0.25")
    switch(client, container, target="venue", mode="timeout_next")
    listed = client.get("/v1/sandbox/faults", headers=admin).json()["data"]
    assert listed["chain"] == {"stall_rate": "0.25"} and listed["venue"] == {"timeout_next": None}
    assert listed["payments"] == {} and listed["kyc"] == {}
    for bad, field in (
        ({"target": "venue", "mode": "stall_rate", "value": "0.5"}, "mode"),  # the venue has no chain
        ({"target": "chain", "mode": "duplicate_rate", "value": "0.5"}, "mode"),
        ({"target": "kyc", "mode": "fail_rate", "value": "-0.1"}, "value"),
        ({"target": "payments", "mode": "timeout_rate", "value": True}, "value"),
    ):
        answer = client.post("/v1/sandbox/faults", json=bad, headers=admin)
        assert answer.status_code == 400, (bad, answer.text)
        assert field in answer.json()["error"]["details"]["fields"], answer.text
    assert client.get("/v1/sandbox/faults", headers=bearer(container, sub="someone")).status_code == 403

    # another process's adapters: a second pool on the same database sees the switches and consumes once
    elsewhere = Database(str(settings.database_url), pool_size=1, name="elsewhere")
    elsewhere.open()
    try:
        venue = SharedFaults(elsewhere, "venue")
        assert SharedFaults(elsewhere, "chain").rate("stall_rate") == 0.25
        assert venue.take("timeout_next") and not venue.take("timeout_next")
        assert not container.faults["venue"].take("timeout_next")
    finally:
        elsewhere.close()
    assert client.delete("/v1/sandbox/faults", headers=admin).status_code == 200
    assert client.get("/v1/sandbox/faults", headers=admin).json()["data"]["chain"] == {}


def test_a_venue_timeout_is_retried_and_the_order_still_fills(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    switch(client, container, target="venue", mode="timeout_next")
    order = order_in(client, alice, buy(client, alice, qty="5"), "FILLED")
    assert order["filled_qty"] == "5.000000"
    assert not container.faults["venue"].take("timeout_next"), "the switch was never used"


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("timeout_rate", VENUE_DOWN_REASON), ("fail_rate", IOC_REASON)],
    ids=["venue-stays-down", "every-dealer-declines"],
)
def test_a_venue_down_or_declining_cancels_the_order_and_releases_the_reservation(
    client: TestClient, container: Container, mode: str, reason: str
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    switch(client, container, target="venue", mode=mode, value="1")
    order = order_in(client, alice, buy(client, alice, qty="5"), "CANCELLED")
    assert order["filled_qty"] == "0.000000" and reason in order["reasons"], order["reasons"]
    eventually(lambda: money(client, alice) == (Decimal(100_000), Decimal(0)))


def test_a_kyc_fail_rate_rejects_and_a_duplicated_webhook_verifies_once(
    client: TestClient, container: Container
) -> None:
    route_webhooks_through(container, client)
    switch(client, container, target="kyc", mode="fail_rate", value="1")
    _email, refused, _user = signed_up_investor(client)
    client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=refused)
    assert wait_for_kyc(client, refused, "rejected")["status"] == "rejected"

    client.delete("/v1/sandbox/faults", headers=bearer(container, Role.ADMIN))
    switch(client, container, target="kyc", mode="duplicate_rate", value="1")
    _email, headers, user_id = signed_up_investor(client)
    client.post("/v1/kyc/start", json={"pan": GOOD_PAN, "consent": True}, headers=headers)
    assert wait_for_kyc(client, headers, "verified")["status"] == "verified"

    def delivered_twice() -> bool:
        with container.db.cursor() as cur:
            row = cur.execute("SELECT count(*) FROM webhook_nonces WHERE source = 'kyc'").fetchone()
        return row is not None and row[0] >= 3  # one for the rejected investor, two for this one

    eventually(delivered_twice, timeout=10)
    case: KycCase = container.store.repository.get(case_id_for(uuid.UUID(user_id)))
    names = [type(e).__qualname__ for e in container.store.events.get(case.id)]
    assert names.count("KycCase.Verified") == 1, names
