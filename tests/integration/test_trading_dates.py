"""Dates that decide eligibility, through the API: maturity, redemption and the record-date window are judged
on the settlement date (T+1 business days), not on the trade date. Trading day: Friday 4 Dec 2026."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.runtime.clock import ManualClock
from bondflow.wiring.container import Container
from bondflow.wiring.seed import SEED_ACTOR
from commands.instruments.handlers import ListInstrument
from commands.kernel.context import CommandContext
from tests.conftest import bearer

pytestmark = pytest.mark.integration

FRIDAY = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)  # 10:30 in India; settles Monday 7 Dec
# matures Saturday 5 Dec 2026, so it is redeemed (and its last coupon paid) today, Friday 4 Dec
REDEEMED_TODAY = "INE777A07012"
# pays its coupon on Monday 21 Dec 2026; 15 days before is its record date, Sunday 6 Dec
COUPON_MONDAY = "INE777A07020"


def listing(isin: str, issue: str, maturity: str) -> dict[str, Any]:
    return {
        "isin": isin,
        "issuer": f"Issuer of {isin}",
        "name": f"{isin} test bond",
        "coupon_rate": "8",
        "coupon_frequency": 2,
        "issue_date": issue,
        "maturity_date": maturity,
        "face_value": "1000",
        "day_count": "ACT/ACT-SEBI",
        "rating": "AAA",
        "reference_clean_price": "100",
    }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FRIDAY, tick=timedelta(milliseconds=1))


@pytest.fixture
def bonds(container: Container) -> None:
    ctx = CommandContext(SEED_ACTOR, "test-listing")
    for body in (
        listing(REDEEMED_TODAY, "2025-12-05", "2026-12-05"),
        listing(COUPON_MONDAY, "2026-06-21", "2029-06-21"),
    ):
        container.instruments.list_instrument(ListInstrument.from_body(body), ctx)


def buy(client: TestClient, headers: dict[str, str], isin: str) -> Any:
    body = {"isin": isin, "side": "BUY", "qty": "1", "limit_clean_price": "100"}
    return client.post("/v1/orders", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex})


@pytest.mark.usefixtures("bonds")
def test_a_bond_redeemed_today_because_it_matures_on_a_holiday_cannot_be_bought(
    client: TestClient, container: Container
) -> None:
    refused = buy(client, bearer(container), REDEEMED_TODAY)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["details"]["rule"]) == ("BF-ORD-005", "matured")
    assert error["details"]["redemption_payment_date"] == "2026-12-04"
    assert error["details"]["settlement_date"] == "2026-12-07"


@pytest.mark.usefixtures("bonds")
def test_a_friday_trade_settling_monday_after_a_sunday_record_date_is_refused(
    client: TestClient, container: Container
) -> None:
    refused = buy(client, bearer(container), COUPON_MONDAY)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["details"]["rule"]) == ("BF-ORD-005", "record_date")
    assert error["details"]["record_date"] == "2026-12-06"
    assert error["details"]["coupon_date"] == "2026-12-21"
