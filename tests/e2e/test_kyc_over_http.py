"""An investor's onboarding against a real `bondflow serve`: the sandbox provider calls the server back
over loopback HTTP with a signed webhook, exactly as a provider would."""

from __future__ import annotations

import time

import httpx
import pytest

import tests.e2e.test_serve_over_http as serving

pytestmark = pytest.mark.e2e

server = serving.server  # the same fixture: a real `bondflow serve` process on a free port


def test_sign_up_log_in_and_kyc_verified_by_the_providers_http_webhook(
    server: tuple[str, dict[str, str], int],
) -> None:
    base, _env, _pid = server
    with httpx.Client(base_url=base, timeout=10) as http:
        email = "e2e.investor@example.in"
        created = http.post("/v1/users", json={"email": email, "password": "a long enough password"})
        assert created.status_code == 201, created.text
        token = http.post("/v1/auth/token", json={"email": email, "password": "a long enough password"})
        assert token.status_code == 200, token.text
        auth = {"Authorization": f"Bearer {token.json()['data']['access_token']}"}
        started = http.post("/v1/kyc/start", json={"pan": "ABCPE1234F", "consent": True}, headers=auth)
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 20
        status = {}
        while time.monotonic() < deadline:
            status = http.get("/v1/kyc/status", headers=auth).json()["data"] or {}  # not projected yet
            if status.get("status") in ("verified", "rejected"):
                break
            time.sleep(0.1)
        assert status["status"] == "verified", status
        assert http.get("/v1/users/me", headers=auth).json()["data"]["email"] == email
