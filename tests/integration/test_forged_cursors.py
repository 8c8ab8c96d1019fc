"""Pagination cursors are signed: a forged or altered cursor is `400 BF-REQ-001`, never a 5xx."""

from __future__ import annotations

import base64

import orjson
import pytest
from fastapi.testclient import TestClient

from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer


def _forged(value: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


FORGERIES = [
    _forged({"s": "-created_at", "v": ["not-a-date", "x"]}),
    _forged({"s": "-executed_at", "v": ["not-a-date", "x"]}),
    _forged({"s": "isin", "v": ["x' OR 1=1 --", "y"]}),
    _forged({"s": "isin", "v": [1, 2, 3]}),
    _forged([1, 2, 3]),
    _forged("just a string"),
    _forged(None),
    "not base64 at all!!",
    "e30.",
    "",
]


@pytest.mark.parametrize("path", ["/v1/orders", "/v1/trades", "/v1/instruments"])
def test_forged_cursors_are_refused_with_400(client: TestClient, container: Container, path: str) -> None:
    investor = bearer(container, Role.INVESTOR, "forger", funds=None)
    for cursor in FORGERIES:
        response = client.get(path, params={"cursor": cursor}, headers=investor)
        assert response.status_code == 400, (cursor, response.text)
        assert response.json()["error"]["code"] == "BF-REQ-001"


def test_an_issued_cursor_pages_on_and_an_altered_one_is_refused(
    client: TestClient, container: Container
) -> None:
    investor = bearer(container, Role.INVESTOR, "pager", funds=None)
    first = client.get("/v1/instruments", params={"limit": 1}, headers=investor).json()
    cursor = first["meta"]["next_cursor"]
    assert cursor, "two bonds are listed: the first page of one has a next cursor"
    second = client.get("/v1/instruments", params={"limit": 1, "cursor": cursor}, headers=investor)
    assert second.status_code == 200
    assert second.json()["data"][0]["isin"] != first["data"][0]["isin"]
    _body, _, tag = cursor.partition(".")
    altered = _forged({"s": "isin", "v": ["A", "A"]}) + "." + tag
    refused = client.get("/v1/instruments", params={"limit": 1, "cursor": altered}, headers=investor)
    assert refused.status_code == 400
    sorted_other_way = client.get(
        "/v1/instruments", params={"limit": 1, "cursor": cursor, "sort": "-isin"}, headers=investor
    )
    assert sorted_other_way.status_code == 400
