"""The bond master, the holiday calendar and bond analytics over HTTP, on real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.api.app import create_app
from bondflow.runtime.clock import ManualClock
from bondflow.security.principal import Role
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from bondflow.wiring.seed import DEMO_BONDS, seed_demo
from tests.conftest import bearer

pytestmark = pytest.mark.integration

GSEC: dict[str, Any] = {
    "isin": "IN0020240019",
    "issuer": "Government of India",
    "name": "7.18% GS 2034",
    "coupon_rate": "7.18",
    "coupon_frequency": 2,
    "issue_date": "2024-07-24",
    "maturity_date": "2034-07-24",
    "face_value": "100",
    "day_count": "30E/360",
    "rating": "SOV",
    "reference_clean_price": "101.90",
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 6, 0, tzinfo=UTC))  # a Monday in India


@pytest.fixture
def app_client(settings: Settings, clock: ManualClock) -> Iterator[tuple[TestClient, Container]]:
    container = bootstrap(settings, clock=clock)
    container.start_followers()
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        yield client, container
    container.close()
    container.clickhouse.command("DROP DATABASE IF EXISTS {db}")


def list_bond(client: TestClient, container: Container, body: dict[str, Any]) -> Any:
    return client.post("/v1/instruments", json=body, headers=bearer(container, Role.ADMIN, "admin-1"))


def test_an_admin_lists_a_bond_and_investors_read_it(app_client: tuple[TestClient, Container]) -> None:
    client, container = app_client
    listed = list_bond(client, container, GSEC)
    assert listed.status_code == 202, listed.text
    investor = bearer(container)
    read = client.get(
        "/v1/instruments/IN0020240019",
        params={"min_position": listed.json()["meta"]["position"]},
        headers=investor,
    ).json()["data"]
    assert read["state"] == "tradable"
    assert read["coupon_rate"] == "7.1800"
    assert read["rating_bucket"] == "SOV"
    assert read["record_date_days"] == 15
    assert read["price_band_pct"] == "5.00"
    assert read["allowed_residencies"] == ["IN"]
    again = list_bond(client, container, GSEC)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "BF-INS-001"
    assert client.post("/v1/instruments", json=GSEC, headers=investor).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"isin": "INE123A07045"}, "isin"),
        ({"coupon_frequency": 3}, "coupon_frequency"),
        ({"coupon_frequency": True}, "coupon_frequency"),
        ({"maturity_date": "2024-01-01"}, "maturity_date"),
        ({"day_count": "ACT/360"}, "day_count"),
        ({"coupon_rate": "-1"}, "coupon_rate"),
        ({"rating": "ZZZ"}, "rating"),
        ({"reference_clean_price": "0"}, "reference_clean_price"),
        ({"issue_date": "2024-02-30"}, "issue_date"),
        ({"allowed_residencies": ["india"]}, "allowed_residencies"),
    ],
)
def test_a_bad_listing_is_refused_naming_the_field(
    app_client: tuple[TestClient, Container], change: dict[str, Any], field: str
) -> None:
    client, container = app_client
    response = list_bond(client, container, {**GSEC, **change})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in {"BF-REQ-001", "BF-ORD-003"}
    assert field in response.json()["error"]["details"]["fields"]


def test_suspend_resume_and_reference_price_change_the_read_model(
    app_client: tuple[TestClient, Container],
) -> None:
    client, container = app_client
    admin = bearer(container, Role.ADMIN, "admin-1")
    list_bond(client, container, GSEC)
    suspended = client.post(
        "/v1/instruments/IN0020240019/suspend", json={"reason": "corporate action"}, headers=admin
    )
    assert suspended.json()["data"]["state"] == "suspended"
    read = client.get(
        "/v1/instruments/IN0020240019",
        params={"min_position": suspended.json()["meta"]["position"]},
        headers=bearer(container),
    ).json()["data"]
    assert (read["state"], read["suspension_reason"]) == ("suspended", "corporate action")
    client.post("/v1/instruments/IN0020240019/resume", headers=admin)
    priced = client.put(
        "/v1/instruments/IN0020240019/reference-price", json={"clean_price": "99.5"}, headers=admin
    )
    read = client.get(
        "/v1/instruments/IN0020240019",
        params={"min_position": priced.json()["meta"]["position"]},
        headers=bearer(container),
    ).json()["data"]
    assert (read["state"], read["reference_clean_price"]) == ("tradable", "99.5000")


def test_embedded_seed_covers_every_day_count_and_frequency_and_is_idempotent(
    app_client: tuple[TestClient, Container],
) -> None:
    client, container = app_client
    assert seed_demo(container.instruments) >= 5 + 20
    assert seed_demo(container.instruments) == 0
    position = container.store.head_position()
    listing = client.get(
        "/v1/instruments", params={"limit": 100, "min_position": position}, headers=bearer(container)
    ).json()["data"]
    assert len(listing) == len(DEMO_BONDS) >= 5
    assert {b["day_count"] for b in listing} == {"ACT/ACT-SEBI", "30E/360", "ACT/365F"}
    assert {b["coupon_frequency"] for b in listing} >= {1, 2, 4, 12}
    page = client.get(
        "/v1/instruments", params={"limit": 2, "sort": "-maturity_date"}, headers=bearer(container)
    ).json()
    second = client.get(
        "/v1/instruments",
        params={"limit": 2, "sort": "-maturity_date", "cursor": page["meta"]["next_cursor"]},
        headers=bearer(container),
    ).json()
    dates = [b["maturity_date"] for b in page["data"] + second["data"]]
    assert dates == sorted(dates, reverse=True)


def test_analytics_default_to_t_plus_one_skipping_a_holiday_and_round_trip(
    app_client: tuple[TestClient, Container],
) -> None:
    client, container = app_client
    seed_demo(container.instruments)  # 24 Nov 2026 is a holiday in the seeded calendar
    investor = bearer(container)
    client.get("/v1/instruments", params={"min_position": container.store.head_position()}, headers=investor)
    by_price = client.get(
        "/v1/instruments/IN0020240019/analytics", params={"clean_price": "101.90"}, headers=investor
    )
    assert by_price.status_code == 200, by_price.text
    figures = by_price.json()["data"]
    assert figures["settlement_date"] == "2026-11-25"
    assert figures["clean_price"] == "101.9000"
    assert figures["previous_coupon_date"] == "2026-07-24"
    assert figures["accrued_days"] == 121  # 30E/360 from 24 Jul to 25 Nov
    by_yield = client.get(
        "/v1/instruments/IN0020240019/analytics",
        params={"ytm": figures["ytm"], "settlement_date": "2026-11-25"},
        headers=investor,
    ).json()["data"]
    assert abs(float(by_yield["clean_price"]) - 101.9) < 0.0002
    for name in (
        "dirty_price",
        "accrued_interest",
        "ytm_annual_effective",
        "macaulay_duration",
        "modified_duration",
        "convexity",
        "pv01",
        "next_coupon_date",
    ):
        assert name in figures


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"settlement_date": "2035-01-01"}, "settlement_date"),
        ({"settlement_date": "2020-01-01"}, "settlement_date"),
        ({"clean_price": "-5"}, "clean_price"),
        ({"ytm": "-1.5"}, "ytm"),
        ({"clean_price": "abc"}, "clean_price"),
        ({"clean_price": "100", "ytm": "0.07"}, "clean_price"),
    ],
)
def test_bad_analytics_input_answers_400_naming_the_field(
    app_client: tuple[TestClient, Container], params: dict[str, str], field: str
) -> None:
    client, container = app_client
    listed = list_bond(client, container, GSEC).json()
    investor = bearer(container)
    response = client.get(
        "/v1/instruments/IN0020240019/analytics",
        params={**params, "min_position": listed["meta"]["position"]},
        headers=investor,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BF-REQ-001"
    assert field in response.json()["error"]["details"]["fields"]


def test_a_wrong_check_digit_in_the_path_is_400_and_an_unknown_isin_404(
    app_client: tuple[TestClient, Container],
) -> None:
    client, container = app_client
    investor = bearer(container)
    bad = client.get("/v1/instruments/INE123A07045/analytics", headers=investor)
    assert (bad.status_code, bad.json()["error"]["details"]["fields"]["isin"]) == (
        400,
        "check digit does not match (ISO 6166)",
    )
    assert client.get("/v1/instruments/INE123A07043", headers=investor).status_code == 404


def test_admins_add_holidays_and_everyone_reads_them(app_client: tuple[TestClient, Container]) -> None:
    client, container = app_client
    admin = bearer(container, Role.ADMIN)
    added = client.post(
        "/v1/calendar/holidays", json={"date": "2026-12-31", "name": "Year end"}, headers=admin
    )
    assert added.status_code == 202
    client.post("/v1/calendar/holidays", json={"date": "2026-12-31", "name": "Year end"}, headers=admin)
    client.get(
        "/v1/instruments",
        params={"min_position": added.json()["meta"]["position"]},
        headers=bearer(container),
    )
    days = client.get("/v1/calendar/holidays", params={"year": 2026}, headers=bearer(container)).json()[
        "data"
    ]
    assert days == [{"date": "2026-12-31", "name": "Year end"}]
