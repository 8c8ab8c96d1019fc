"""Issue 12, defect 9, as it was found: `bondflow serve` (API and worker process) SIGKILLed after the
sandbox providers accepted deposits and a KYC check but before they called back. After a restart on the
same database every acknowledged deposit is confirmed and the KYC check decided, by the providers' own
webhooks (the status query is pushed out of the way), each counted once. Fails without the providers'
durable memory (their callbacks were in-memory timers that died with the process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.test_serve_over_http import cli_token, free_port, wait_for

pytestmark = pytest.mark.e2e

DEPOSITS = {"kill-dep-1": "1000.00", "kill-dep-2": "2500.50", "kill-dep-3": "75.25"}


class Serve:
    """`bondflow serve` in its own process group, so SIGKILL takes the API and its worker child at once."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{env['BONDFLOW_HTTP_PORT']}"

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bondflow.cli", "serve"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"bondflow serve did not become ready:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[Serve]:
    env = {
        **os.environ,
        "BONDFLOW_DATABASE_URL": database_url,
        "BONDFLOW_DATA_DIR": str(tmp_path / "var"),
        "BONDFLOW_HTTP_PORT": str(free_port()),
        "BONDFLOW_LOG_LEVEL": "WARNING",
        "BONDFLOW_CLOCK_START": "2026-11-25T05:00:00Z",
        "BONDFLOW_CLOCK_ANCHOR": datetime.now(UTC).isoformat(),  # one clock across the restart
        "BONDFLOW_PAYMENTS_SANDBOX_DELAY_SECONDS": "3",  # the window in which the server dies
        "BONDFLOW_KYC_SANDBOX_DELAY_SECONDS": "3",
        "BONDFLOW_PAYMENTS_STATUS_CHECK_SECONDS": "3600",  # only the providers' own webhooks may finish
    }
    env.pop("BONDFLOW_CLICKHOUSE_DSN", None)
    server = Serve(env, tmp_path / "serve.log")
    yield server
    server.stop()


def rows(database_url: str, query: str) -> list[Any]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query).fetchall()


def test_deposits_and_a_kyc_check_acknowledged_before_a_sigkill_complete_after_restart(
    serve: Serve, database_url: str
) -> None:
    serve.start()
    investor = {"Authorization": f"Bearer {cli_token(serve.env, 'investor', 'kill-alice', '--kyc-verified')}"}
    with httpx.Client(base_url=serve.base, timeout=10) as http:
        payment_ids = []
        for key, amount in DEPOSITS.items():
            answer = http.post(
                "/v1/payments/deposits",
                json={"amount": amount, "method": "UPI"},
                headers={**investor, "Idempotency-Key": key},
            )
            assert answer.status_code == 202, answer.text
            payment_ids.append(answer.json()["data"]["payment_id"])
        email = "killed.kyc@example.in"
        http.post("/v1/users", json={"email": email, "password": "a long enough password"})
        token = http.post("/v1/auth/token", json={"email": email, "password": "a long enough password"})
        kyc = {"Authorization": f"Bearer {token.json()['data']['access_token']}"}
        started = http.post("/v1/kyc/start", json={"pan": "ABCPE1234F", "consent": True}, headers=kyc)
        assert started.status_code == 202, started.text

        accepted = wait_for(
            lambda: (
                len(rows(database_url, "SELECT 1 FROM sandbox_payments"))
                + len(rows(database_url, "SELECT 1 FROM sandbox_kyc_requests"))
            ),
            lambda n: n == len(DEPOSITS) + 1,
        )
        assert accepted == len(DEPOSITS) + 1, "the providers did not accept everything in time"
    serve.kill()  # before any callback is due
    statuses = rows(database_url, "SELECT status FROM payments_view")
    assert statuses and {s for (s,) in statuses} == {"INITIATED"}, statuses

    serve.start()
    with httpx.Client(base_url=serve.base, timeout=10) as http:

        def settled() -> list[str]:
            return [
                http.get(f"/v1/payments/{p}", headers=investor).json()["data"]["status"] for p in payment_ids
            ]

        assert wait_for(settled, lambda s: set(s) == {"CONFIRMED"}, seconds=60) == ["CONFIRMED"] * 3
        expected = str(sum((Decimal(a) for a in DEPOSITS.values()), Decimal(0)))
        balance = wait_for(
            lambda: http.get("/v1/escrow/balance", headers=investor).json()["data"],
            lambda b: b["available"] == expected,
        )
        assert balance["available"] == expected, balance  # each deposit credited once
        status = wait_for(
            lambda: http.get("/v1/kyc/status", headers=kyc).json()["data"] or {},
            lambda s: s.get("status") == "verified",
            seconds=60,
        )
        assert status["status"] == "verified", status
