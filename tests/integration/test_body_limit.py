"""Request bodies are capped while they stream: a 100 MB webhook body is refused after the first 64 KiB,
never buffered whole, with `413` in the envelope."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from fastapi.testclient import TestClient

from bondflow.api.app import create_app
from bondflow.wiring.container import Container

CHUNK = b"x" * 65536
HUNDRED_MB_IN_CHUNKS = 1600


def test_a_streamed_100_mb_webhook_body_is_cut_off_early(container: Container) -> None:
    sent = 0

    async def hundred_megabytes() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(HUNDRED_MB_IN_CHUNKS):
            sent += 1
            yield CHUNK

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(container))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(
                "/v1/payments/webhook",
                content=hundred_megabytes(),
                headers={"Content-Type": "application/json"},
            )

    response = asyncio.run(run())
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["error"]["code"] == "BF-REQ-001"
    assert body["meta"]["request_id"].startswith("bf_")
    assert sent <= 3, f"the server read {sent} chunks of 64 KiB before refusing"


def test_a_declared_oversized_body_is_refused_on_every_route(client: TestClient) -> None:
    big = b'{"pad": "' + b"y" * 70_000 + b'"}'
    for path in ("/v1/kyc/webhook", "/v1/orders", "/v1/users", "/v1/auth/token"):
        response = client.post(path, content=big, headers={"Content-Type": "application/json"})
        assert response.status_code == 413, (path, response.text)
        assert response.json()["error"]["code"] == "BF-REQ-001"
        assert response.headers["X-Request-ID"] == response.json()["meta"]["request_id"]
