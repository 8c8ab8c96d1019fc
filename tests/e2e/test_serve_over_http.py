"""The README's session against a real `bondflow serve` process over loopback HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bondflow.domain.settlement_money import terms_of

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, dict[str, str], int]]:
    """(base URL, the environment it runs with, its pid): `bondflow serve` on a free loopback port, with the
    settings a test's indirect parameter adds."""
    port = free_port()
    env = {
        **os.environ,
        "BONDFLOW_DATABASE_URL": database_url,
        "BONDFLOW_DATA_DIR": str(tmp_path / "var"),
        "BONDFLOW_HTTP_PORT": str(port),
        "BONDFLOW_LOG_LEVEL": "WARNING",
        "BONDFLOW_CLOCK_START": "2026-11-25T05:00:00Z",  # a trading day, whatever day the suite runs on
        **getattr(request, "param", {}),
    }
    env.pop("BONDFLOW_CLICKHOUSE_DSN", None)  # the server opens chDB under its own DATA_DIR
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bondflow.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"bondflow serve did not become ready:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield base, env, process.pid
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def cli_token(env: dict[str, str], role: str, sub: str, *extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bondflow.cli", "token", "--role", role, "--sub", sub, *extra],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def wait_for(read: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


def deposit_and_wait(http: httpx.Client, amount: str, method: str, key: str) -> Any:
    """Deposit into escrow; the balance once the sandbox's signed webhook has confirmed it (or the last read)."""
    deposit = http.post(
        "/v1/payments/deposits", json={"amount": amount, "method": method}, headers={"Idempotency-Key": key}
    )
    assert deposit.status_code == 202, deposit.text
    expected = f"{Decimal(amount):.2f}"
    return wait_for(
        lambda: http.get("/v1/escrow/balance").json()["data"],
        lambda b: b is not None and b["available"] == expected,
    )


def test_the_readme_session_funds_places_replays_and_reads_an_order(
    server: tuple[str, dict[str, str], int],
) -> None:
    base, env, _pid = server
    auth = {"Authorization": f"Bearer {cli_token(env, 'investor', 'alice', '--kyc-verified')}"}
    body = {"isin": "INE123A07043", "side": "BUY", "qty": 10, "limit_clean_price": 101.5}
    with httpx.Client(base_url=base, headers=auth, timeout=10) as http:
        funded = deposit_and_wait(http, "500000", "RTGS", "deposit-001")
        assert funded["available"] == "500000.00", funded  # the sandbox confirmed by signed webhook over HTTP
        placed = http.post("/v1/orders", json=body, headers={"Idempotency-Key": "order-001"})
        assert placed.status_code == 202, placed.text
        replay = http.post("/v1/orders", json=body, headers={"Idempotency-Key": "order-001"})
        assert replay.status_code == 409
        assert replay.json()["data"] == placed.json()["data"]
        changed = http.post("/v1/orders", json={**body, "qty": 11}, headers={"Idempotency-Key": "order-001"})
        assert changed.status_code == 422
        order_id = placed.json()["data"]["order_id"]
        position = placed.json()["meta"]["position"]
        read = http.get(f"/v1/orders/{order_id}", params={"min_position": position})
        assert read.status_code == 200
        assert read.json()["data"]["limit_clean_price"] == "101.5000"
        executed = wait_for(
            lambda: http.get(f"/v1/orders/{order_id}").json()["data"],
            lambda o: o["remaining_qty"] == "0.000000",
        )
        assert executed["filled_qty"] == "10.000000", executed
        trades = http.get("/v1/trades").json()["data"]
        assert sum(Decimal(t["qty"]) for t in trades) == Decimal(10)
        # DvP: both legs settle, the order reaches FILLED, holdings show the bond valued with its analytics
        filled = wait_for(
            lambda: http.get(f"/v1/orders/{order_id}").json()["data"], lambda o: o["status"] == "FILLED"
        )
        assert filled["status"] == "FILLED", filled
        for trade in trades:  # another read model than the order's: it may be a moment behind it
            settlement = wait_for(
                lambda t=trade: http.get(f"/v1/trades/{t['trade_id']}/settlement").json()["data"],
                lambda s: s["state"] == "COMPLETED",
            )
            assert settlement["state"] == "COMPLETED", settlement
            assert settlement["legs"]["token"]["tx_hash"].startswith("0x")
        consideration = sum(Decimal(t["consideration"]) for t in trades)
        # DvP: the buyer also pays stamp duty on each fill (DOMAIN.md, the ledger)
        consideration += sum(
            terms_of("BUY", Decimal(t["consideration"]), Decimal(t["fees"])).stamp_duty for t in trades
        )
        balance = wait_for(
            lambda: http.get("/v1/escrow/balance").json()["data"],
            lambda b: Decimal(b["available"]) == Decimal(500000) - consideration,
        )
        assert (Decimal(balance["available"]), Decimal(balance["reserved"])) == (500000 - consideration, 0)
        holdings = wait_for(
            lambda: http.get("/v1/portfolio/holdings").json()["data"]["holdings"],
            lambda h: any(x["isin"] == "INE123A07043" for x in h),
        )
        bond = next(h for h in holdings if h["isin"] == "INE123A07043")
        assert (
            Decimal(bond["qty"]) == 10 and bond["ytm"] is not None and bond["modified_duration"] is not None
        )
        flow = http.get("/v1/analytics/order-flow", params={"min_position": position})
        assert flow.json()["data"][0]["qty"] == "10.000000"
        analytics = http.get("/v1/instruments/INE123A07043/analytics", params={"clean_price": "101.25"})
        assert analytics.json()["data"]["settlement_date"] == "2026-11-26"
        jwks = http.get("/.well-known/jwks.json").json()
        assert jwks["keys"][0]["alg"] == "ES256"


def test_the_token_command_is_refused_in_prod(tmp_path: Path) -> None:
    env = {**os.environ, "BONDFLOW_ENV": "prod", "BONDFLOW_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bondflow.cli", "token", "--role", "admin"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "refused in prod" in result.stderr
    assert not (tmp_path / "keys").exists()


def test_serve_refuses_to_start_in_prod_with_defaults(tmp_path: Path) -> None:
    env = {**os.environ, "BONDFLOW_ENV": "prod", "BONDFLOW_DATA_DIR": str(tmp_path)}
    env.pop("BONDFLOW_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "bondflow.cli", "serve"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refusing to start in prod" in result.stderr
    assert not (tmp_path / "pg").exists()


def children_of(pid: int) -> list[int]:
    """Child processes, whichever of the process's threads started them."""
    tasks = Path(f"/proc/{pid}/task")
    children = []
    for task in tasks.iterdir() if tasks.exists() else []:
        try:
            children += [int(child) for child in (task / "children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return children


def test_serve_runs_the_followers_in_a_supervised_worker_process(
    server: tuple[str, dict[str, str], int],
) -> None:
    base, env, pid = server
    ready = httpx.get(f"{base}/readyz", timeout=5).json()["data"]["checks"]
    assert ready["process:worker_process"] == "ok", ready
    assert "follower:order_flow" in ready and "follower:orders_view" not in ready  # ClickHouse stays here
    (child,) = children_of(pid)
    os.kill(child, signal.SIGKILL)  # the worker process crashes
    replaced = wait_for(lambda: children_of(pid), lambda c: len(c) == 1 and c[0] != child)
    assert len(replaced) == 1 and replaced[0] != child, "the worker process was not restarted"
    auth = {"Authorization": f"Bearer {cli_token(env, 'investor', 'carol', '--kyc-verified')}"}
    with httpx.Client(base_url=base, headers=auth, timeout=10) as http:
        # the payment effect worker and the escrow projector live in the restarted worker process
        balance = deposit_and_wait(http, "1000", "UPI", "deposit-carol")
        assert balance["available"] == "1000.00", balance
    ready = httpx.get(f"{base}/readyz", timeout=5).json()["data"]["checks"]
    assert ready["process:worker_process"] == "ok", ready


SETTLEMENT = ["settlement_saga", "settlement_chain", "settlement_payments", "settlement_timer"]


@pytest.mark.parametrize(
    "server", [{"BONDFLOW_WORKER_GROUPS": orjson.dumps([SETTLEMENT]).decode()}], indirect=True
)
def test_a_worker_group_runs_in_a_second_supervised_process_and_trades_still_settle(
    server: tuple[str, dict[str, str], int],
) -> None:
    base, env, pid = server
    ready = httpx.get(f"{base}/readyz", timeout=5).json()["data"]["checks"]
    assert ready["process:worker_process"] == "ok" and ready["process:worker_process_2"] == "ok", ready
    followers_of = {
        child: Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0") for child in children_of(pid)
    }
    assert len(followers_of) == 2, followers_of
    settling = [child for child, argv in followers_of.items() if b"settlement_saga" in argv]
    assert len(settling) == 1 and all(name.encode() in followers_of[settling[0]] for name in SETTLEMENT)
    (other,) = set(followers_of) - set(settling)
    assert b"execution" in followers_of[other] and b"settlement_saga" not in followers_of[other]
    auth = {"Authorization": f"Bearer {cli_token(env, 'investor', 'dave', '--kyc-verified')}"}
    body = {"isin": "INE123A07043", "side": "BUY", "qty": 5, "limit_clean_price": 101.5}
    with httpx.Client(base_url=base, headers=auth, timeout=10) as http:
        deposit_and_wait(http, "500000", "RTGS", "deposit-dave")
        os.kill(settling[0], signal.SIGKILL)  # the settlement process crashes; its supervisor starts another
        placed = http.post("/v1/orders", json=body, headers={"Idempotency-Key": "order-dave"})
        assert placed.status_code == 202, placed.text
        order_id = placed.json()["data"]["order_id"]
        filled = wait_for(
            lambda: http.get(f"/v1/orders/{order_id}").json()["data"],
            lambda o: o is not None and o["status"] == "FILLED",
            40,
        )
        assert filled["status"] == "FILLED", filled  # execution in one process, DvP in the other
    assert len(children_of(pid)) == 2
