"""Helpers for the investor tests: sign up and log in over HTTP, route the sandbox KYC provider's
webhooks through the test client (so the signature check runs for real), and wait for a KYC outcome."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi.testclient import TestClient

from bondflow.wiring.container import Container

PASSWORD = "correct horse battery staple"
GOOD_PAN = "ABCPE1234F"
REJECTED_PAN = "ABCPE0000F"


def new_email() -> str:
    return f"investor.{uuid.uuid4().hex[:10]}@example.in"


def sign_up(client: TestClient, email: str | None = None, **fields: Any) -> Any:
    body = {"email": email or new_email(), "password": PASSWORD, **fields}
    return client.post("/v1/users", json=body)


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    return client.post("/v1/auth/token", json={"email": email, "password": password})


def signed_up_investor(client: TestClient, **fields: Any) -> tuple[str, dict[str, str], str]:
    """(email, Authorization header, user_id) of a freshly registered, logged-in investor."""
    email = new_email()
    created = sign_up(client, email, **fields)
    assert created.status_code == 201, created.text
    token = log_in(client, email)
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['data']['access_token']}"}
    return email, headers, created.json()["data"]["user_id"]


def route_webhooks_through(container: Container, client: TestClient) -> None:
    def deliver(body: bytes, headers: dict[str, str]) -> int:
        return client.post("/v1/kyc/webhook", content=body, headers=headers).status_code

    container.investors.kyc_provider.sender.deliver = deliver


def wait_for_kyc(client: TestClient, headers: dict[str, str], status: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        current = client.get("/v1/kyc/status", headers=headers).json()["data"]
        if current["status"] == status or time.monotonic() > deadline:
            return current
        time.sleep(0.05)
