"""What `make fuzz` (schemathesis against the served `/openapi.json`, tools/fuzz.py) found, each pinned by
a fast test: a JSON object or list where an enum string belongs answered 500 (an unhashable value looked up
in a set); a query read a read model's table before any follower had created it (500 `UndefinedTable` while
the worker process was still starting); a 405 named only one route's methods in `Allow`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from bondflow.api.app import create_app
from bondflow.runtime.clock import ManualClock
from bondflow.security.principal import Role
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.support.investors import PASSWORD, new_email

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("category", [{}, [], ["retail"], {"retail": True}])
def test_a_sign_up_with_an_object_for_the_category_is_refused_not_a_500(
    client: TestClient, category: object
) -> None:
    body = {"email": new_email(), "password": PASSWORD, "investor_category": category}
    answer = client.post("/v1/users", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "BF-REQ-001"
    assert answer.json()["error"]["details"]["fields"] == {
        "investor_category": "must be retail, hni or institutional"
    }


def test_a_tax_declaration_with_a_list_for_the_form_is_refused_not_a_500(
    client: TestClient, investor: dict[str, str]
) -> None:
    answer = client.post(
        "/v1/tax/declarations", json={"form": ["15G"], "financial_year": "2026-27"}, headers=investor
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"]["fields"] == {"form": "must be 15G or 15H"}


def test_listing_a_bond_with_an_object_for_the_day_count_is_refused_not_a_500(
    client: TestClient, container: object
) -> None:
    from bondflow.wiring.seed import DEMO_BONDS

    admin = bearer(container, Role.ADMIN)  # type: ignore[arg-type]
    body = {**DEMO_BONDS[2], "isin": DEMO_BONDS[2]["isin"], "day_count": {"ACT/365F": 1}}
    answer = client.post(
        "/v1/instruments", json=body, headers={**admin, "Idempotency-Key": "day-count-object"}
    )
    assert answer.status_code == 400, answer.text
    assert "day_count" in answer.json()["error"]["details"]["fields"]


def test_a_405_names_every_method_the_path_serves(client: TestClient, investor: dict[str, str]) -> None:
    answer = client.options("/v1/orders", headers=investor)
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "BF-REQ-001"
    assert {m.strip() for m in answer.headers["Allow"].split(",")} >= {"GET", "POST"}
    holidays = client.request("PATCH", "/v1/calendar/holidays", headers=investor)
    assert {m.strip() for m in holidays.headers["Allow"].split(",")} >= {"GET", "POST"}


@pytest.fixture
def app_without_followers(settings: Settings, clock: ManualClock) -> Iterator[tuple[TestClient, object]]:
    """The API as `bondflow serve` has it before its worker process has started a single follower."""
    built = bootstrap(settings, clock=clock)
    try:
        with TestClient(create_app(built), raise_server_exceptions=False) as test_client:
            yield test_client, built
    finally:
        built.close()
        built.clickhouse.command("DROP DATABASE IF EXISTS {db}")


def test_the_read_models_exist_before_any_follower_has_run(
    app_without_followers: tuple[TestClient, object],
) -> None:
    client, container = app_without_followers
    investor = bearer(container, Role.INVESTOR, funds=None)  # type: ignore[arg-type]
    for path in (
        "/v1/escrow/balance",
        "/v1/orders",
        "/v1/trades",
        "/v1/portfolio/holdings",
        "/v1/instruments",
    ):
        answer = client.get(path, headers=investor)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json()["error"] is None


@pytest.mark.parametrize(
    "path",
    ["/v1/instruments", "/v1/orders", "/v1/payments/deposits", "/v1/kyc/start", "/v1/tax/declarations"],
)
def test_a_request_without_a_token_is_refused_before_its_body_is_read(client: TestClient, path: str) -> None:
    """Was `400 body is not valid JSON` to anyone: the body was parsed before the caller was authenticated."""
    answer = client.post(path, content=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "BF-AUTH-001"


def test_a_405_on_a_static_path_names_its_own_methods_not_a_templates(client: TestClient) -> None:
    """`/v1/payments/deposits` also matches the route `GET /v1/payments/{payment_id}`: Allow said GET too."""
    for path in ("/v1/payments/deposits", "/v1/payments/webhook"):
        answer = client.options(path)
        assert answer.status_code == 405
        assert answer.headers["Allow"] == "POST", path
    assert client.request("PATCH", "/v1/orders/some-order").headers["Allow"] == "GET"


@pytest.mark.parametrize("to", ["0", "20261201", "1733011200"])
def test_a_query_date_is_read_only_as_yyyy_mm_dd(
    client: TestClient, investor: dict[str, str], to: str
) -> None:
    """`?to=0` was read as 1970-01-01 (pydantic's lax date) and answered 200; the document says a date."""
    answer = client.get("/v1/analytics/order-flow", params={"to": to}, headers=investor)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"]["fields"] == {"to": "Value error, a date as YYYY-MM-DD"}
    assert (
        client.get("/v1/analytics/order-flow", params={"to": "2026-12-01"}, headers=investor).status_code
        == 200
    )


def test_a_one_shot_fault_with_a_value_is_refused_not_ignored(client: TestClient, container: object) -> None:
    """`{"mode": "fail_next", "value": "AAA"}` answered 202 (the value was ignored): schemathesis ST201."""
    admin = bearer(container, Role.ADMIN)  # type: ignore[arg-type]
    refused = client.post(
        "/v1/sandbox/faults", json={"target": "kyc", "mode": "fail_next", "value": "AAA"}, headers=admin
    )
    assert refused.status_code == 400, refused.text
    assert "value" in refused.json()["error"]["details"]["fields"]
    extra = {"target": "kyc", "mode": "fail_next", "x-unknown": 42}
    unknown = client.post("/v1/sandbox/faults", json=extra, headers=admin)
    assert unknown.status_code == 400 and unknown.json()["error"]["details"]["fields"] == {
        "x-unknown": "not allowed"
    }
    taken = client.post("/v1/sandbox/faults", json={"target": "kyc", "mode": "fail_next"}, headers=admin)
    assert taken.status_code == 202, taken.text
    client.delete("/v1/sandbox/faults", headers=admin)


def test_an_unknown_sort_is_refused_with_the_published_rule(
    client: TestClient, investor: dict[str, str]
) -> None:
    answer = client.get("/v1/orders", params={"sort": "price"}, headers=investor)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "BF-REQ-001"
    assert client.get("/v1/orders", params={"sort": "-updated_at"}, headers=investor).status_code == 200


def test_a_client_that_leaves_before_its_body_is_read_is_no_internal_error(
    container: Container, investor: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Under overload a client gives up (its timeout) before the API reads its body: starlette raises
    `ClientDisconnect`. That was logged as an unhandled error with its whole traceback (rendering it took
    about a third of the event loop's CPU in such a run) and counted as a 500; it is a 499 now, logged
    without a traceback."""
    app = create_app(container)
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/orders",
        "raw_path": b"/v1/orders",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", b"120"),
            (b"idempotency-key", b"k-disconnect"),
            (b"authorization", investor["Authorization"].encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    with caplog.at_level(logging.INFO):
        asyncio.run(app(scope, receive, send))
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] == [499]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records
    ]
    assert container.metrics.request_latency.labels("POST", "/v1/orders", "499")._sum.get() > 0
    assert not container.metrics.request_latency.labels("POST", "/v1/orders", "500")._sum.get()
