"""Two real `bondflow serve --no-workers` processes on one database share one rate limit, and a made-up
X-Forwarded-For from loopback (which uvicorn used to believe) does not bypass a per-IP limit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_serve_over_http import cli_token, free_port

pytestmark = pytest.mark.e2e

LIMITS = {
    # the hour bucket binds (20/hour refills a token every 3 minutes): exact whatever the machine's speed
    "BONDFLOW_ORDERS_PER_USER_PER_MINUTE": "1000",
    "BONDFLOW_ORDERS_PER_USER_PER_HOUR": "20",
    "BONDFLOW_REQUESTS_PER_IP_PER_MINUTE": "5",
}


def start(env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    base = f"http://127.0.0.1:{env['BONDFLOW_HTTP_PORT']}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bondflow.cli", "serve", "--no-workers"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"bondflow serve did not become ready:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.2)


@pytest.fixture
def servers(database_url: str, tmp_path: Path) -> Iterator[list[tuple[str, dict[str, str]]]]:
    """Two API processes (base URL, environment) on one database, with one shifted clock."""
    anchor = datetime.now(UTC).isoformat()
    running: list[tuple[subprocess.Popen[bytes], str, dict[str, str]]] = []
    try:
        for n in range(2):
            env = {
                **os.environ,
                **LIMITS,
                "BONDFLOW_DATABASE_URL": database_url,
                "BONDFLOW_DATA_DIR": str(tmp_path / f"var{n}"),
                "BONDFLOW_HTTP_PORT": str(free_port()),
                "BONDFLOW_LOG_LEVEL": "WARNING",
                "BONDFLOW_CLOCK_START": "2026-11-25T05:00:00Z",
                "BONDFLOW_CLOCK_ANCHOR": anchor,
                "BONDFLOW_SEED_DEMO_DATA": "true" if n == 0 else "false",
            }
            for name in (
                "BONDFLOW_CLICKHOUSE_DSN",
                "BONDFLOW_KAFKA_BOOTSTRAP_SERVERS",
                "BONDFLOW_TRUSTED_PROXIES",
            ):
                env.pop(name, None)
            process, base = start(env, tmp_path / f"serve{n}.log")
            running.append((process, base, env))
        yield [(base, env) for _, base, env in running]
    finally:
        for process, _, _ in running:
            process.terminate()
        for process, _, _ in running:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def test_the_21st_order_is_429_whichever_process_gets_it_and_a_made_up_forwarded_for_changes_nothing(
    servers: list[tuple[str, dict[str, str]]],
) -> None:
    """One test, so that the two servers start once."""
    orders_share_one_limit(servers)
    forwarded_for_from_loopback_changes_nothing(servers)


def orders_share_one_limit(servers: list[tuple[str, dict[str, str]]]) -> None:
    clients = [
        httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {cli_token(env, 'investor', 'alice', '--kyc-verified')}"},
            timeout=10,
        )
        for base, env in servers
    ]
    body = {"isin": "INE123A07043", "side": "BUY", "qty": "1"}

    def order(n: int) -> httpx.Response:
        return clients[n % 2].post("/v1/orders", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})

    try:
        first = [order(n) for n in range(20)]  # unfunded, so refused by the pre-trade checks: still counted
        assert [r.status_code for r in first] == [403] * 20, first[-1].text
        for n in (20, 21):  # one refusal from each process
            refused = order(n)
            assert refused.status_code == 429, refused.text
            assert refused.json()["error"]["code"] == "BF-RATE-001"
            assert int(refused.headers["Retry-After"]) > 60
            assert '"orders-per-hour";r=0;t=' in refused.headers["RateLimit"]
    finally:
        for client in clients:
            client.close()


def forwarded_for_from_loopback_changes_nothing(servers: list[tuple[str, dict[str, str]]]) -> None:
    base, _env = servers[0]
    statuses = [
        httpx.get(f"{base}/v1/instruments", headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code
        for n in range(6)
    ]
    assert statuses == [401] * 5 + [429]
