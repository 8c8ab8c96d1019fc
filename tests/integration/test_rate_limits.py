"""Rate limits shared in PostgreSQL (API.md): two API instances on one database share every bucket; orders
are limited per user (20/minute, 200/hour by default); a refusal is 429 BF-RATE-001 with Retry-After and the
RateLimit fields; forwarded headers do not bypass per-IP limits; strangers cannot lock an owner out."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.adapters.rate_buckets import Bucket, TokenBuckets
from bondflow.api.app import create_app
from bondflow.runtime.clock import ManualClock
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from tests.conftest import TRADING_DAY, bearer, list_test_bonds
from tests.support.investors import PASSWORD, log_in, new_email, sign_up

pytestmark = pytest.mark.integration

DEFAULT_LIMITS = {  # the settings' defaults, which conftest lifts for every other test
    "orders_per_user_per_minute": 20,
    "orders_per_user_per_hour": 200,
    "requests_per_user_per_minute": 600,
    "writes_per_user_per_minute": 30,
    "requests_per_ip_per_minute": 300,
    # not the defaults (100 and 20): each login or sign-up hashes a password, so fewer keep the tests short
    "login_attempts_per_account_per_hour": 12,
    "sign_ups_per_ip_per_minute": 4,
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update=DEFAULT_LIMITS)


@pytest.fixture
def frozen() -> ManualClock:
    return ManualClock(TRADING_DAY)


@pytest.fixture
def second(settings: Settings, container: Container, frozen: ManualClock) -> Iterator[TestClient]:
    """Another API instance on the same database (its own pools, its own in-process state)."""
    other = bootstrap(settings, clock=container.clock)
    for instance in (container, other):
        assert instance.rate_buckets is not None
        instance.rate_buckets.clock = frozen  # the buckets' time stands still unless the test moves it
    with TestClient(create_app(other), raise_server_exceptions=False) as client:
        yield client
    other.close()


def order(client: TestClient, headers: dict[str, str]) -> Any:
    body = {"isin": "INE123A07043", "side": "BUY", "qty": "1"}
    return client.post("/v1/orders", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})


def test_the_21st_order_in_a_minute_is_429_whichever_instance_gets_it(
    client: TestClient, second: TestClient, container: Container, frozen: ManualClock
) -> None:
    alice = bearer(container, sub="alice")
    answers = [order(client if i % 2 else second, alice) for i in range(20)]
    assert [a.status_code for a in answers] == [202] * 20, answers[-1].text
    assert (
        answers[0].headers["RateLimit-Policy"]
        == '"orders-per-minute";q=20;w=60, "orders-per-hour";q=200;w=3600'
    )
    assert answers[-1].headers["RateLimit"].startswith('"orders-per-minute";r=0;')
    for instance in (second, client):
        refused = order(instance, alice)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"]["code"] == "BF-RATE-001"
        assert refused.json()["error"]["details"]["limit"] == "orders-per-minute"
        assert refused.headers["Retry-After"] == "3"  # 20 per minute: one token every 3 s
        assert refused.headers["RateLimit"].startswith('"orders-per-minute";r=0;t=')
        assert "RateLimit-Policy" in refused.headers
    assert order(client, bearer(container, sub="bob")).status_code == 202  # per user
    frozen.advance(timedelta(seconds=3))
    assert order(second, alice).status_code == 202
    assert order(client, alice).status_code == 429


def test_thirty_orders_back_to_back_meet_429s_and_the_hour_bucket_is_not_drained_by_them(
    client: TestClient, second: TestClient, container: Container, frozen: ManualClock
) -> None:
    alice = bearer(container, sub="alice")
    statuses = Counter(order(client, alice).status_code for _ in range(30))
    assert statuses == {202: 20, 429: 10}
    frozen.advance(timedelta(minutes=1))
    after = order(second, alice)
    assert after.status_code == 202
    # 200 - 21 taken + 3.33 refilled in the minute: the 10 refused calls gave their hour tokens back
    assert '"orders-per-hour";r=182;' in after.headers["RateLimit"]


def test_other_routes_are_limited_per_user_and_scope(
    client: TestClient, container: Container, second: TestClient
) -> None:
    alice = bearer(container, sub="alice")
    read = client.get("/v1/orders", headers=alice)
    assert read.status_code == 200
    assert read.headers["RateLimit-Policy"] == '"reads";q=600;w=60'
    assert read.headers["RateLimit"] == '"reads";r=599;t=1'
    writes = [
        client.post(
            "/v1/payments/deposits",
            json={"amount": "1000", "method": "NEFT"},
            headers={**alice, "Idempotency-Key": uuid.uuid4().hex},
        ).status_code
        for _ in range(31)
    ]
    assert writes[:30] == [202] * 30 and writes[30] == 429
    assert client.get("/v1/orders", headers=alice).status_code == 200  # another scope, another bucket
    anonymous = client.get("/v1/instruments")
    assert (
        anonymous.status_code == 401
        and anonymous.headers["RateLimit-Policy"] == '"requests-per-ip";q=300;w=60'
    )


def test_a_made_up_x_forwarded_for_does_not_bypass_per_ip_limits(
    client: TestClient, container: Container
) -> None:
    limit = container.settings.sign_ups_per_ip_per_minute
    assert container.rate_buckets is not None
    container.rate_buckets.clock = ManualClock(TRADING_DAY)
    statuses = [
        client.post(
            "/v1/users",
            json={"email": new_email(), "password": PASSWORD},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code
        for i in range(limit + 1)
    ]
    assert statuses == [201] * limit + [429]


def test_strangers_cannot_lock_the_owner_out_and_their_buckets_survive_a_restart(
    container: Container, settings: Settings, frozen: ManualClock
) -> None:
    assert container.rate_buckets is not None
    container.rate_buckets.clock = frozen
    app = create_app(container)
    owner = TestClient(app, raise_server_exceptions=False, client=("198.51.100.7", 40000))
    stranger = TestClient(app, raise_server_exceptions=False, client=("203.0.113.66", 40000))
    email = new_email()
    assert sign_up(owner, email).status_code == 201
    guesses = [log_in(stranger, email, "not the password!").status_code for _ in range(8)]
    assert guesses == [401] * 5 + [429] * 3
    assert log_in(owner, email).status_code == 200  # five wrong passwords from a stranger lock out no owner

    restarted = bootstrap(settings, clock=container.clock)  # a new API process: the buckets are in PostgreSQL
    try:
        assert restarted.rate_buckets is not None
        restarted.rate_buckets.clock = frozen
        again = TestClient(create_app(restarted), raise_server_exceptions=False, client=("203.0.113.66", 1))
        refused = log_in(again, email, "not the password!")
        assert (
            refused.status_code == 429
            and refused.json()["error"]["details"]["limit"] == "logins-per-account-and-ip"
        )
        assert "RateLimit-Policy" in refused.headers and int(refused.headers["Retry-After"]) >= 1
    finally:
        restarted.close()


def test_a_distributed_guess_meets_the_accounts_hourly_bucket(
    settings: Settings, clock: ManualClock, frozen: ManualClock
) -> None:
    hourly = 3
    small = bootstrap(
        settings.model_copy(update={"login_attempts_per_account_per_hour": hourly}), clock=clock
    )
    try:
        assert small.rate_buckets is not None
        small.rate_buckets.clock = frozen
        app = create_app(small)
        email = new_email()
        assert sign_up(TestClient(app), email).status_code == 201
        statuses = Counter(
            log_in(TestClient(app, client=(f"10.0.{i}.1", 1)), email, "wrong password!!").status_code
            for i in range(hourly + 1)
        )
    finally:
        small.close()
    assert statuses == {401: hourly, 429: 1}


def test_limits_can_be_lifted_for_load_runs(settings: Settings, clock: ManualClock) -> None:
    lifted = bootstrap(settings.model_copy(update={"rate_limits_enabled": False}), clock=clock)
    list_test_bonds(lifted)
    try:
        with TestClient(create_app(lifted), raise_server_exceptions=False) as client:
            alice = bearer(lifted, sub="alice")
            answers = [order(client, alice) for _ in range(25)]
        assert {a.status_code for a in answers} == {202}
        assert "RateLimit" not in answers[0].headers
    finally:
        lifted.close()


def test_concurrent_takes_from_one_bucket_never_lose_an_update(container: Container) -> None:
    buckets = TokenBuckets(container.db.url, ManualClock(TRADING_DAY), b"test")
    buckets.setup()
    granted: list[bool] = []
    bucket = Bucket("test", "hot", capacity=50, window_seconds=3600)

    def hammer() -> None:
        for _ in range(20):
            granted.extend(v.granted for v in buckets.take([bucket]))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    buckets.close()
    assert Counter(granted) == {True: 50, False: 30}
