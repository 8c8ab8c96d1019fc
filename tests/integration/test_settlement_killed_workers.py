"""The DvP saga with its followers in their own processes, SIGKILLed and restarted mid-flight, while the
sandboxes fail, time out, stall chain transfers past their deadlines and deliver payment webhooks twice.

The settlement followers (saga, payment leg, chain leg, deadline timer) run as `bondflow worker NAME`
subprocesses on the test's database, sharing one shifted clock (`BONDFLOW_CLOCK_START` + `_ANCHOR`). The
API, the execution worker and the read models run in the test process. A chaos thread kills a random
worker every second or so and starts a fresh one. Afterwards every DOMAIN.md invariant holds: cash and
token conservation, each leg at most once, no settlement non-terminal, holdings equal the chain.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from bondflow.auth.principal import Role
from bondflow.container import Container
from bondflow.domain.portfolio import Portfolio, portfolio_id
from bondflow.settings import Settings
from projections import positions
from tests.conftest import TRADING_DAY, bearer
from tests.integration.test_settlement import eventually
from tests.integration.test_settlement_faults import (
    FUNDS,
    _executed,
    all_terminal,
    check_invariants,
    place,
    redeliver_everything,
    resolve_breaks,
)

pytestmark = pytest.mark.integration

SETTLEMENT_WORKERS = ("settlement_saga", "settlement_payments", "settlement_chain", "settlement_timer")
DEADLINE_SECONDS = 6
INVESTORS = [f"killed-{i}" for i in range(4)]


class Workers:
    """One `bondflow worker` subprocess per settlement follower; `kill` SIGKILLs one, `start` replaces it."""

    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.log_path = tmp_path / "workers.log"
        self.env = {
            **os.environ,
            "BONDFLOW_DATABASE_URL": str(settings.database_url),
            "BONDFLOW_CLOCK_START": TRADING_DAY.isoformat(),
            "BONDFLOW_CLOCK_ANCHOR": datetime.now(UTC).isoformat(),
            "BONDFLOW_SETTLEMENT_PAYMENT_TIMEOUT_SECONDS": str(DEADLINE_SECONDS),
            "BONDFLOW_SETTLEMENT_TOKEN_TIMEOUT_SECONDS": str(DEADLINE_SECONDS),
            "BONDFLOW_PAYMENTS_SANDBOX_SEED": str(settings.payments_sandbox_seed),
            "BONDFLOW_CHAIN_SANDBOX_SEED": str(settings.chain_sandbox_seed),
            "BONDFLOW_FOLLOWER_BATCH_SIZE": "20",
            "BONDFLOW_LOG_LEVEL": "WARNING",
        }
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.kills = 0

    def start(self, name: str) -> None:
        env = {
            **self.env,
            "BONDFLOW_DATA_DIR": str(self.tmp_path / f"{name}-{uuid.uuid4().hex[:6]}"),
            "BONDFLOW_CLICKHOUSE_DSN": f"chdb://{self.tmp_path / f'ch-{uuid.uuid4().hex[:6]}'}",
        }
        with open(self.log_path, "ab") as log:
            self.running[name] = subprocess.Popen(
                [sys.executable, "-m", "bondflow.cli", "worker", name],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def kill(self, name: str) -> None:
        process = self.running[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        self.kills += 1

    def dead(self) -> list[str]:
        return [name for name, p in self.running.items() if p.poll() is not None]

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


@pytest.fixture
def workers(container: Container, settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    """The in-process settlement followers stop; subprocesses take their place."""
    for name in SETTLEMENT_WORKERS:
        container.followers[name].stop()
        container.running.remove(name)
    pool = Workers(settings, tmp_path)
    for name in SETTLEMENT_WORKERS:
        pool.start(name)
    yield pool
    pool.stop_all()


class Chaos(threading.Thread):
    """Every `every` seconds (± jitter) SIGKILL one worker and start a fresh copy at once."""

    def __init__(self, pool: Workers, seed: int, every: float = 1.2) -> None:
        super().__init__(daemon=True)
        self.pool = pool
        self.rng = random.Random(seed)
        self.every = every
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.every * self.rng.uniform(0.5, 1.5)):
            name = self.rng.choice(SETTLEMENT_WORKERS)
            self.pool.kill(name)
            self.pool.start(name)


def set_faults(client: TestClient, admin: dict[str, str], *faults: tuple[str, str, str | None]) -> None:
    for target, mode, value in faults:
        body = {"target": target, "mode": mode, **({"value": value} if value is not None else {})}
        answer = client.post("/v1/sandbox/faults", json=body, headers=admin)
        assert answer.status_code == 202, answer.text


def deposit(client: TestClient, headers: dict[str, str], amount: str) -> str:
    answer = client.post(
        "/v1/payments/deposits",
        json={"amount": amount, "method": "UPI"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["data"]["payment_id"])


def test_killed_and_restarted_settlement_workers_under_faults_keep_every_invariant(
    client: TestClient, container: Container, workers: Workers
) -> None:
    delivered: list[bytes] = []

    def deliver(body: bytes, headers: dict[str, str]) -> int:  # the payments sandbox's webhooks
        delivered.append(body)
        return client.post("/v1/payments/webhook", content=body, headers=headers).status_code

    container.payments.provider.sender.deliver = deliver
    container.start_followers(["execution"])
    investors = {sub: bearer(container, sub=sub, funds=FUNDS) for sub in INVESTORS}
    admin = bearer(container, Role.ADMIN)
    set_faults(
        client,
        admin,
        ("payments", "fail_rate", "0.25"),
        ("payments", "timeout_rate", "0.2"),
        ("payments", "duplicate_rate", "1"),
        ("chain", "fail_rate", "0.2"),
        ("chain", "timeout_rate", "0.2"),
        ("chain", "stall_rate", "0.25"),
    )
    chaos = Chaos(workers, seed=11)
    chaos.start()
    try:
        # every deposit's webhook arrives twice; each must count once
        deposits = [deposit(client, investors[sub], "1000") for sub in INVESTORS]
        orders = []
        for round_ in range(3):
            for sub, headers in investors.items():
                placed = place(client, headers, "BUY", str(2 + round_), key=f"killed-buy-{sub}-{round_}")
                assert placed.status_code == 202, placed.text
                orders.append((sub, placed.json()["data"]["order_id"]))
            time.sleep(1.0)
        trades = eventually(lambda: _executed(client, investors, orders), timeout=60)
        eventually(lambda: all_terminal(container, len(trades), or_broken=True), timeout=120)
        sells = []
        for sub, headers in investors.items():
            portfolio: Portfolio = container.store.repository.get(portfolio_id(sub))
            if portfolio.free_units("INE123A07043") >= 1:
                placed = place(client, headers, "SELL", "1", key=f"killed-sell-{sub}")
                assert placed.status_code == 202, placed.text
                sells.append((sub, placed.json()["data"]["order_id"]))
        trades = eventually(lambda: _executed(client, investors, orders + sells), timeout=60)
        eventually(lambda: all_terminal(container, len(trades), or_broken=True), timeout=120)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker logs ---\n{workers.log_tail()}") from exc
    finally:
        chaos.halt.set()
        chaos.join(30)
    assert workers.kills >= 5, f"only {workers.kills} workers were killed"

    client.delete("/v1/sandbox/faults", headers=admin)
    resolve_breaks(client, container)
    eventually(lambda: all_terminal(container, len(trades)), timeout=120)
    head = container.store.head_position()
    eventually(lambda: all(_position(container, n) >= head for n in SETTLEMENT_WORKERS[:3]), timeout=60)
    assert not workers.dead(), f"a worker died on its own: {workers.dead()}\n{workers.log_tail()}"
    workers.stop_all()

    def deposit_outcomes() -> dict[str, Decimal] | None:
        outcomes = {}
        for payment_id, sub in zip(deposits, INVESTORS, strict=True):
            answer = client.get(f"/v1/payments/{payment_id}", headers=investors[sub]).json().get("data")
            if not answer or answer["status"] not in ("CONFIRMED", "FAILED"):
                return None
            outcomes[sub] = Decimal(answer["amount"]) if answer["status"] == "CONFIRMED" else Decimal(0)
        return outcomes

    confirmed_deposits = eventually(deposit_outcomes, timeout=30)
    for payment_id in deposits:  # each webhook came twice and counted once (cash conservation below)
        assert sum(1 for body in delivered if orjson.loads(body)["payment_id"] == payment_id) >= 2
    before = container.store.head_position()
    redeliver_everything(container)  # every confirmation and request delivered once more, in process
    assert container.store.head_position() == before, "a redelivered event recorded something"
    check_invariants(container, client, investors, trades, deposits=confirmed_deposits)
    with container.db.cursor() as cur:
        codes = {c for (c,) in cur.execute("SELECT DISTINCT failure_code FROM settlements_view").fetchall()}
    # the run went through every path: settled, chain rejected, refused payment, a stalled transfer's deadline
    assert {None, "BF-SET-006", "BF-PAY-006", "BF-SET-007"} <= codes, codes


def _position(container: Container, name: str) -> int:
    return positions.read_position(container.db, name)
