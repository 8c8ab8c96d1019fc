"""Operational endpoints and headers: health, readiness, metrics, JWKS, request ids, security headers."""

from __future__ import annotations

import jwt
import pytest
from fastapi.testclient import TestClient

from bondflow.security.principal import Role
from bondflow.wiring.container import Container

pytestmark = pytest.mark.integration


def test_healthz_and_readyz_report_every_dependency(client: TestClient, container: Container) -> None:
    assert client.get("/healthz").json()["data"] == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["data"]["checks"]
    assert checks["postgres"] == checks["clickhouse"] == checks["event_store"] == "ok"
    assert checks["follower:orders_view"] in {"ok", "standby"}


def test_readyz_answers_503_naming_what_is_down(client: TestClient, container: Container) -> None:
    container.followers["orders_view"].stop()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "follower:orders_view" in response.json()["error"]["message"]
    assert response.json()["error"]["details"]["checks"]["postgres"] == "ok"


def test_metrics_expose_route_latency_and_follower_lag(client: TestClient, investor: dict[str, str]) -> None:
    client.get("/v1/orders", headers=investor)
    text = client.get("/metrics").text
    assert (
        'bondflow_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/orders",status="200"}'
        in text
    )
    assert 'bondflow_follower_lag_events{follower="orders_view"}' in text


def test_tokens_verify_against_the_published_jwks(client: TestClient, container: Container) -> None:
    jwks = client.get("/.well-known/jwks.json").json()
    (key,) = jwks["keys"]
    public = jwt.PyJWK(key).key
    token = container.tokens.mint("u-9", Role.INVESTOR)
    claims = jwt.decode(
        token,
        public,
        algorithms=["ES256"],
        audience="bondflow-api",
        options={"verify_iat": False, "verify_exp": False, "verify_nbf": False},
    )  # test clock
    assert claims["sub"] == "u-9"


def test_a_valid_request_id_is_kept_and_an_invalid_one_replaced(client: TestClient) -> None:
    kept = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert kept.headers["X-Request-ID"] == "abc-123"
    assert kept.json()["meta"]["request_id"] == "abc-123"
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"})
    assert replaced.headers["X-Request-ID"].startswith("bf_")


def test_every_response_carries_security_headers(client: TestClient) -> None:
    for path in ("/healthz", "/v1/nothing", "/openapi.json"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "default-src" in response.headers["Content-Security-Policy"]


def test_openapi_documents_the_order_request_body(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/orders"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]  # a named request model
    assert body["required"] == ["isin", "side", "qty"]


def test_a_callers_traceparent_keeps_its_trace_id_with_a_new_span(client: TestClient) -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = client.get("/healthz", headers={"traceparent": incoming})
    version, trace_id, span_id, flags = response.headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", "4bf92f3577b34da6a3ce929d0e0e4736", "01")
    assert span_id != "00f067aa0ba902b7"
    fresh = client.get("/healthz", headers={"traceparent": "garbage"}).headers["traceparent"]
    assert fresh.split("-")[1] != trace_id


def test_cors_allows_only_configured_origins(client: TestClient) -> None:
    preflight = client.options(
        "/v1/orders", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_docs_are_served_with_bundled_assets(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs/static/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/docs/static/swagger-ui-bundle.js").status_code == 200
