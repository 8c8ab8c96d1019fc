"""Write contention that outlasts a handler's retries is a 409 `BF-CONFLICT-001` with `Retry-After`, not a
400 for a request that was fine: each attempt below loses a real race on PostgreSQL (a competing writer
saves the same aggregate between the handler's load and its save)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.domain.market_calendar import calendar_id
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer

pytestmark = pytest.mark.integration


def assert_conflict(response: Any) -> None:
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "BF-CONFLICT-001"
    assert response.headers["Retry-After"] == "1"


def test_a_holiday_that_keeps_losing_the_race_for_the_calendar_answers_409(
    client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = bearer(container, Role.ADMIN)
    assert client.post(
        "/v1/calendar/holidays", json={"date": "2027-01-01", "name": "a"}, headers=admin
    ).is_success
    commands = container.instruments
    load = commands._calendar
    days = iter(range(2, 20))

    def load_then_lose_the_race(ctx: Any) -> Any:
        mine = load(ctx)
        rival = container.store.repository.get(calendar_id())
        rival.add_holiday(day=date(2027, 3, next(days)), name="rival", actor_id="rival", request_id="rival")
        container.store.save(rival)
        return mine

    monkeypatch.setattr(commands, "_calendar", load_then_lose_the_race)
    response = client.post("/v1/calendar/holidays", json={"date": "2027-02-01", "name": "b"}, headers=admin)
    assert_conflict(response)


def test_a_cancel_that_keeps_losing_the_race_for_the_escrow_account_answers_409(
    client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    investor = bearer(container, sub="racer")
    placed = client.post(
        "/v1/orders",
        json={"isin": "INE123A07043", "side": "BUY", "qty": "1", "limit_clean_price": "101"},
        headers={**investor, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert placed.status_code == 202, placed.text
    escrow = container.trading.orders.escrow
    load = escrow.load
    credits = iter(range(100))

    def load_then_lose_the_race(user_id: str, **kwargs: Any) -> Any:
        mine = load(user_id, **kwargs)
        rival = load(user_id, **kwargs)
        rival.credit(f"rival-{next(credits)}", Decimal(1), "race", actor_id="rival", request_id="rival")
        container.store.save(rival)
        return mine

    monkeypatch.setattr(escrow, "load", load_then_lose_the_race)
    response = client.post(f"/v1/orders/{placed.json()['data']['order_id']}/cancel", headers=investor)
    assert_conflict(response)
