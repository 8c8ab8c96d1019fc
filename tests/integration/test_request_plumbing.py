"""The per-request plumbing (`bondflow.api.middleware.RequestPlumbing`, plain ASGI): every answer carries the
request id, the trace context and the security headers, is measured and logged once, and an error that
escapes every handler is answered with the envelope, never a stack trace."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bondflow.api.app import create_app
from bondflow.api.middleware import SECURITY_HEADERS
from bondflow.wiring.container import Container

pytestmark = pytest.mark.integration


def test_an_error_escaping_every_handler_is_the_envelope_with_the_usual_headers(container: Container) -> None:
    app = create_app(container)

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/v1/_broken", broken, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/v1/_broken", headers={"X-Request-ID": "req-plumbing-1"})
    assert answer.status_code == 500
    assert answer.json()["error"]["code"] == "BF-INT-001"
    assert "a bug" not in answer.text and "Traceback" not in answer.text
    assert answer.headers["X-Request-ID"] == "req-plumbing-1"
    assert answer.headers["traceparent"].startswith("00-")
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    assert container.metrics.request_latency.labels("GET", "/v1/_broken", "500")._sum.get() > 0


def test_an_answer_keeps_a_header_a_route_set_and_gets_the_rest(client: TestClient) -> None:
    answer = client.get("/healthz", headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})
    assert answer.status_code == 200
    assert answer.headers["traceparent"].split("-")[1] == "a" * 32  # the caller's trace goes on
    assert len(answer.headers["X-Request-ID"]) > 0
    assert answer.headers.get_list("X-Request-ID") == [answer.headers["X-Request-ID"]]  # set once
    for name in SECURITY_HEADERS:
        assert name in answer.headers
