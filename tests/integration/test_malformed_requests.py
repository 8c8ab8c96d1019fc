"""Bad input gets a clear 400 in the envelope, loses nothing, and never produces a 5xx."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bondflow.wiring.container import Container

pytestmark = pytest.mark.integration

ISIN = "INE123A07043"


def post_raw(client: TestClient, headers: dict[str, str], content: bytes | str) -> Any:
    return client.post(
        "/v1/orders",
        content=content,
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"},
    )


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[]",
        b'"a string"',
        b"null",
        b'{"isin": "INE123A07043", "side": "BUY", "qty": NaN}',
        b'{"isin": "INE123A07043", "side": "BUY", "qty": Infinity}',
        b'{"isin": "INE123A07043", "side": "HOLD", "qty": 1}',
        b'{"isin": "INE123A07043", "side": "BUY", "qty": 1' + b"0" * 5000 + b"}",
        b'{"isin": "INE123A07043", "side": "BUY", "qty": 1, "account": "other"}',
        b'{"side": "BUY", "qty": 1}',
        b"[" * 30_000 + b"]" * 30_000,  # deep nesting under the body limit (larger bodies are 413)
    ],
)
def test_malformed_bodies_answer_400_bf_req_001(
    client: TestClient, investor: dict[str, str], container: Container, body: bytes
) -> None:
    before = container.store.head_position()
    response = post_raw(client, investor, body)
    assert response.status_code == 400, response.text
    envelope = response.json()
    assert envelope["data"] is None
    assert envelope["error"]["code"] == "BF-REQ-001"
    assert envelope["meta"]["request_id"]
    assert container.store.head_position() == before  # nothing was written


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("isin", b'{"isin": 123456789012, "side": "BUY", "qty": 1}'),
        ("qty", b'{"isin": "INE123A07043", "side": "BUY", "qty": true}'),
        ("qty", b'{"isin": "INE123A07043", "side": "BUY", "qty": [1]}'),
        ("qty", b'{"isin": "INE123A07043", "side": "BUY", "qty": {"v": 1}}'),
        ("qty", b'{"isin": "INE123A07043", "side": "BUY", "qty": "ten"}'),
        ("qty", b'{"isin": "INE123A07043", "side": "BUY", "qty": 1e999999}'),
        ("qty", b'{"isin": "INE123A07043", "side": "BUY", "qty": 10000000000000}'),
        (
            "limit_clean_price",
            b'{"isin": "INE123A07043", "side": "BUY", "qty": 1, "limit_clean_price": "1e9"}',
        ),
        ("qty", '{"isin": "INE123A07043", "side": "BUY", "qty": "\u0661"}'.encode()),
    ],
)
def test_isin_qty_and_price_of_the_wrong_shape_answer_400_bf_ord_003(
    client: TestClient, investor: dict[str, str], container: Container, field: str, body: bytes
) -> None:
    """DOMAIN.md check 1: the order's ISIN, qty and price shape is `BF-ORD-003`, however it is wrong."""
    before = container.store.head_position()
    response = post_raw(client, investor, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BF-ORD-003"
    assert field in response.json()["error"]["details"]["fields"]
    assert container.store.head_position() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("isin", "INE123A07045"),
        ("isin", "ine123a07043"),
        ("qty", "0"),
        ("qty", "-1"),
        ("qty", "0.0000001"),
        ("limit_clean_price", "0"),
        ("limit_clean_price", "99.12345"),
        ("limit_clean_price", -5),
    ],
)
def test_invalid_order_parameters_answer_400_bf_ord_003_naming_the_field(
    client: TestClient, investor: dict[str, str], field: str, value: Any
) -> None:
    body = {"isin": ISIN, "side": "BUY", "qty": "1", field: value}
    response = client.post("/v1/orders", json=body, headers={**investor, "Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BF-ORD-003"
    assert field in response.json()["error"]["details"]["fields"]


def test_a_body_that_is_not_json_content_is_refused(client: TestClient, investor: dict[str, str]) -> None:
    response = client.post(
        "/v1/orders",
        content=b"isin=x",
        headers={**investor, "Idempotency-Key": "k", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BF-REQ-001"


def test_unknown_routes_and_methods_are_enveloped(client: TestClient) -> None:
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "BF-NF-001"
    wrong_method = client.delete("/v1/orders")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "BF-REQ-001"


def test_bad_path_and_query_values_are_400(client: TestClient, investor: dict[str, str]) -> None:
    assert client.get("/v1/orders/not-a-uuid", headers=investor).json()["error"]["code"] == "BF-REQ-001"
    assert client.get("/v1/orders", params={"limit": "x"}, headers=investor).status_code == 400
    flow = client.get("/v1/analytics/order-flow", params={"from": "2026-13-01"}, headers=investor)
    assert flow.status_code == 400


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=12,
)
order_like = st.fixed_dictionaries(
    {},
    optional={
        "isin": st.sampled_from([ISIN, "INE123A07045", ""]) | json_values,
        "side": st.sampled_from(["BUY", "SELL", "buy"]) | json_values,
        "qty": st.sampled_from(["1", "0.5", "-1", "1e400"]) | json_values,
        "limit_clean_price": st.sampled_from(["99.75", "0"]) | json_values,
        "extra": json_values,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=order_like | json_values)
def test_no_generated_body_ever_produces_a_5xx(
    client: TestClient, investor: dict[str, str], body: Any
) -> None:
    response = client.post("/v1/orders", json=body, headers={**investor, "Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code < 500, response.text
    assert set(response.json()) == {"data", "error", "meta"}
