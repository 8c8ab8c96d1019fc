"""The DvP saga with its followers in their own processes, SIGKILLed and restarted mid-flight, while the
sandboxes fail, time out, stall chain transfers past their deadlines and deliver payment webhooks twice.

The settlement followers (saga, payment leg, chain leg, deadline timer) run as `bondflow worker NAME`
subprocesses on the test's database. They and the test process (the API, the execution worker, the read
models, the ledger poster, the payouts sandbox's webhooks) read one shifted clock (`BONDFLOW_CLOCK_START`
+ `_ANCHOR`), as a deployment's processes do. A chaos thread kills a random worker at work every second or
so and starts a fresh one. Run with the sandboxes' default latencies and with the realistic profile.
Afterwards every DOMAIN.md invariant holds: cash and token conservation, each leg at most once, no
settlement non-terminal, holdings equal the chain, the ledger balanced and equal to escrow and to the
bank's book, fees and stamp duty those of the settled trades, and the day reconciles with no break.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from bondflow.adapters.postgres import Database
from bondflow.domain.portfolio import Portfolio, portfolio_id
from bondflow.runtime import positions
from bondflow.runtime.clock import OffsetClock
from bondflow.security.principal import Role
from bondflow.settings import Settings
from bondflow.wiring.container import Container
from tests.conftest import TRADING_DAY, bearer, ledger_posted
from tests.integration.test_payments_api import wait_for_status
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
from tests.support.settlement_diagnostics import unsettled_report

pytestmark = [pytest.mark.integration, pytest.mark.chaos]  # `make chaos`: minutes, processes killed

SETTLEMENT_WORKERS = ("settlement_saga", "settlement_payments", "settlement_chain", "settlement_timer")
DEADLINE_SECONDS = 6
INVESTORS = [f"killed-{i}" for i in range(4)]
FAULTS: tuple[tuple[str, str, str | None], ...] = (
    ("payments", "fail_rate", "0.25"),
    ("payments", "timeout_rate", "0.2"),
    ("payments", "duplicate_rate", "1"),
    ("chain", "fail_rate", "0.2"),
    ("chain", "timeout_rate", "0.2"),
    ("chain", "stall_rate", "0.25"),
)
SELL_ROUNDS = 2


def sell_key(sub: str, round_: int) -> str:
    """The SELLs' Idempotency-Keys. The sandboxes' fault draws depend only on the seeds and the ids these
    keys derive (order, RFQ, the best dealer's quote, trade, settlement, step key), so they decide which
    dealer payments `fail_rate` refuses: three of these eight (BF-PAY-006, `test_chaos_harness`)."""
    return f"killed-sell-{sub}-{round_}"


class Workers:
    """One `bondflow worker` subprocess per settlement follower; `kill` SIGKILLs one, `start` replaces it."""

    def __init__(self, settings: Settings, tmp_path: Path, anchor: datetime) -> None:
        self.tmp_path = tmp_path
        self.log_path = tmp_path / "workers.log"
        self.env = {
            **os.environ,
            "BONDFLOW_DATABASE_URL": str(settings.database_url),
            "BONDFLOW_CLOCK_START": TRADING_DAY.isoformat(),
            "BONDFLOW_SETTLEMENT_PAYMENT_TIMEOUT_SECONDS": str(settings.settlement_payment_timeout_seconds),
            "BONDFLOW_SETTLEMENT_TOKEN_TIMEOUT_SECONDS": str(settings.settlement_token_timeout_seconds),
            "BONDFLOW_CHAIN_SANDBOX_FINALITY_SECONDS": str(settings.chain_sandbox_finality_seconds),
            "BONDFLOW_PAYOUT_SANDBOX_DELAY_SECONDS": str(settings.payout_sandbox_delay_seconds),
            "BONDFLOW_VENUE_QUOTE_DELAY_SECONDS": str(settings.venue_quote_delay_seconds),
            "BONDFLOW_PAYMENTS_SANDBOX_SEED": str(settings.payments_sandbox_seed),
            "BONDFLOW_CHAIN_SANDBOX_SEED": str(settings.chain_sandbox_seed),
            "BONDFLOW_FOLLOWER_BATCH_SIZE": "20",
            "BONDFLOW_LOG_LEVEL": "WARNING",
        }
        self.anchor = anchor
        self.env["BONDFLOW_CLOCK_ANCHOR"] = self.anchor.isoformat()
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.kills = 0

    def start(self, name: str) -> None:
        env = {
            **self.env,
            "PGAPPNAME": f"bf-worker-{name}",  # libpq names this process's sessions (see `leading`)
            "BONDFLOW_DATA_DIR": str(self.tmp_path / f"{name}-{uuid.uuid4().hex[:6]}"),
            "BONDFLOW_CLICKHOUSE_DSN": f"chdb://{self.tmp_path / f'ch-{uuid.uuid4().hex[:6]}'}",
        }
        with open(self.log_path, "ab") as log:
            self.running[name] = subprocess.Popen(
                [sys.executable, "-m", "bondflow.cli", "worker", *self.arguments(name)],
                env=env,
                stdout=log,
                stderr=log,
            )

    def arguments(self, name: str) -> list[str]:
        """What `bondflow worker` runs in the process called `name`: here the follower of that name."""
        return [name]

    def kill(self, name: str) -> None:
        process = self.running[name]
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        self.kills += 1

    def leading(self, db: Database) -> set[str]:
        """The worker processes that lead (here: whose follower's leader lock is held)."""
        return leaders(db, SETTLEMENT_WORKERS)

    def all_led(self, db: Database) -> bool:
        """Every follower (or segment) has a leader: the run can start."""
        return leaders(db, SETTLEMENT_WORKERS) == set(SETTLEMENT_WORKERS)

    def positions(self) -> tuple[str, ...]:
        """The recorded positions that must reach the head once the run is over (the timer has none)."""
        return SETTLEMENT_WORKERS[:3]

    def clock_now(self) -> datetime:
        """What the workers' shifted clock reads now."""
        return TRADING_DAY + (datetime.now(UTC) - self.anchor)

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


# provider latencies: the sandboxes' defaults, and the realistic profile of `tools/bench/filled_at_rate.py`
PROFILES = {
    "zero": {},
    "realistic": {
        "chain_sandbox_finality_seconds": 2.0,
        "payout_sandbox_delay_seconds": 1.0,
        "venue_quote_delay_seconds": 0.15,
    },
}


@pytest.fixture(params=sorted(PROFILES))
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """Short deadlines (so that kills make them fire), the same in the test process (an operator's retry
    sets one) as in the workers, and the provider latencies of the profile."""
    return settings.model_copy(
        update={
            "settlement_payment_timeout_seconds": DEADLINE_SECONDS,
            "settlement_token_timeout_seconds": DEADLINE_SECONDS,
            **PROFILES[request.param],
        }
    )


@pytest.fixture
def anchor() -> datetime:
    """The moment the shared clock reads `TRADING_DAY`."""
    return datetime.now(UTC)


@pytest.fixture
def clock(anchor: datetime) -> OffsetClock:
    return shared_clock(anchor)


def shared_clock(anchor: datetime) -> OffsetClock:
    """The test process (API, execution, read models, the payouts sandbox's webhooks) and the worker
    processes read one clock, as the processes of a deployment do: the workers' shifted real time."""
    return OffsetClock(TRADING_DAY, anchored_at=anchor)


@pytest.fixture
def workers(container: Container, settings: Settings, tmp_path: Path, anchor: datetime) -> Iterator[Workers]:
    """The in-process settlement followers stop; subprocesses take their place."""
    for name in SETTLEMENT_WORKERS:
        container.followers[name].stop()
        container.running.remove(name)
    pool = Workers(settings, tmp_path, anchor)
    for name in SETTLEMENT_WORKERS:
        pool.start(name)
    yield pool
    pool.stop_all()


class Chaos(threading.Thread):
    """Every `every` seconds (± jitter) SIGKILL one worker that is at work and start a fresh copy at once.

    At work: it has led its follower (held the follower's advisory lock) for `min_lead` seconds at least,
    so it is killed mid-flight, with effects submitted and outcomes pending. A copy still starting (its
    imports take seconds on a loaded machine) is left to start: killing it again and again would only
    stop the settlement from moving at all, which no deployment does and no invariant is about."""

    def __init__(self, pool: Workers, db: Database, seed: int, every: float = 1.2, min_lead: float = 1.0):
        super().__init__(daemon=True)
        self.pool = pool
        self.db = db
        self.rng = random.Random(seed)
        self.every = every
        self.min_lead = min_lead
        self.halt = threading.Event()
        self.leading_since: dict[str, tuple[int, float]] = {}  # name -> (pid, when first seen leading)

    def run(self) -> None:
        while not self.halt.wait(self.every * self.rng.uniform(0.5, 1.5)):
            at_work = self.at_work()
            if not at_work:
                continue
            name = self.rng.choice(at_work)
            self.pool.kill(name)
            self.pool.start(name)

    def at_work(self) -> list[str]:
        now = time.monotonic()
        leading = self.pool.leading(self.db)
        for name in self.pool.running:
            pid = self.pool.running[name].pid
            if name not in leading:
                self.leading_since.pop(name, None)
            elif self.leading_since.get(name, (None, 0.0))[0] != pid:
                self.leading_since[name] = (pid, now)
        return [n for n, (_pid, since) in self.leading_since.items() if now - since >= self.min_lead]


def leaders(db: Database, names: Iterable[str] = SETTLEMENT_WORKERS) -> set[str]:
    """The followers (or segments) of `names` whose leader lock (`FollowerRunner.lock_key`) some session holds."""
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT n.name FROM unnest(%s::text[]) AS n(name) WHERE EXISTS (SELECT 1 FROM pg_locks l"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended('follower:' || n.name, 0))",
            (list(names),),
        ).fetchall()
    return {str(r[0]) for r in rows}


def set_faults(client: TestClient, admin: dict[str, str], *faults: tuple[str, str, str | None]) -> None:
    for target, mode, value in faults:
        body = {"target": target, "mode": mode, **({"value": value} if value is not None else {})}
        answer = client.post("/v1/sandbox/faults", json=body, headers=admin)
        assert answer.status_code == 202, answer.text


def deposit(client: TestClient, headers: dict[str, str], amount: str, method: str = "UPI") -> str:
    answer = client.post(
        "/v1/payments/deposits",
        json={"amount": amount, "method": method},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 202, answer.text
    return str(answer.json()["data"]["payment_id"])


def test_killed_and_restarted_settlement_workers_under_faults_keep_every_invariant(
    client: TestClient, container: Container, workers: Workers
) -> None:
    settle_under_chaos(client, container, workers)


def settle_under_chaos(client: TestClient, container: Container, workers: Workers) -> None:
    """Fund, trade and sell under every fault while `workers` are killed and restarted; then check every
    invariant."""
    delivered: list[bytes] = []

    def deliver(body: bytes, headers: dict[str, str]) -> int:  # the payments sandbox's webhooks
        delivered.append(body)
        return client.post("/v1/payments/webhook", content=body, headers=headers).status_code

    container.payments.provider.sender.deliver = deliver
    container.start_followers(["execution"])
    investors = {sub: bearer(container, sub=sub, funds=None) for sub in INVESTORS}
    for headers in investors.values():  # paid in through the payments sandbox: the bank's book has it
        funding = deposit(client, headers, str(FUNDS), "RTGS")
        assert wait_for_status(client, headers, funding, timeout=30)["status"] == "CONFIRMED"
    admin = bearer(container, Role.ADMIN)
    set_faults(client, admin, *FAULTS)
    eventually(lambda: workers.all_led(container.db), timeout=90)  # every worker is up and leading
    chaos = Chaos(workers, container.db, seed=11)
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
        for round_, (sub, headers) in itertools.product(range(SELL_ROUNDS), investors.items()):
            portfolio: Portfolio = container.store.repository.get(portfolio_id(sub))
            if portfolio.free_units("INE123A07043") >= 1:
                placed = place(client, headers, "SELL", "1", key=sell_key(sub, round_))
                assert placed.status_code == 202, placed.text
                sells.append((sub, placed.json()["data"]["order_id"]))
        trades = eventually(lambda: _executed(client, investors, orders + sells), timeout=60)
        eventually(lambda: all_terminal(container, len(trades), or_broken=True), timeout=120)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_stuck(container, workers)}") from exc
    finally:
        chaos.halt.set()
        chaos.join(30)
    assert workers.kills >= 5, f"only {workers.kills} workers were killed"

    client.delete("/v1/sandbox/faults", headers=admin)
    resolve_breaks(client, container)
    try:
        eventually(lambda: all_terminal(container, len(trades)), timeout=120)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{_stuck(container, workers)}") from exc
    head = container.store.head_position()
    eventually(lambda: all(_position(container, n) >= head for n in workers.positions()), timeout=60)
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
    ledger_posted(container)
    before = container.store.head_position()
    redeliver_everything(container)  # every confirmation and request delivered once more, in process
    assert container.store.head_position() == before, "a redelivered event recorded something"
    check_invariants(container, client, investors, trades, deposits=confirmed_deposits)
    ops = bearer(container, Role.OPS, sub="ops-reconcile")
    day = client.get("/v1/ops/reconciliation", headers=ops).json()["data"]
    assert day["reconciled"] and day["breaks"] == [], (day["breaks"], _bank_and_ledger(container))
    with container.db.cursor() as cur:
        codes = {c for (c,) in cur.execute("SELECT DISTINCT failure_code FROM settlements_view").fetchall()}
    # the run went through every path: settled, chain rejected, refused payment, a stalled transfer's deadline
    assert {None, "BF-SET-006", "BF-PAY-006", "BF-SET-007"} <= codes, codes


def _stuck(container: Container, workers: Workers) -> str:
    """What was left behind: the settlements not terminal, the workers' clock and their logs."""
    return (
        f"workers' clock: {workers.clock_now()}; died on their own: {workers.dead() or 'none'}\n"
        f"{unsettled_report(container)}\n"
        f"--- worker logs ---\n{workers.log_tail()}"
    )


def _bank_and_ledger(container: Container) -> str:
    """Both sides of reconciliation, for a failure message."""
    with container.db.cursor() as cur:
        bank = cur.execute(
            "SELECT reference, debit, credit, narrative FROM sandbox_bank_lines ORDER BY line_no"
        ).fetchall()
        ledger = cur.execute(
            "SELECT e.kind, l.reference, l.debit, l.credit, e.source_topic FROM ledger_lines l"
            " JOIN ledger_entries e USING (entry_id) WHERE l.account = 'bank:escrow' ORDER BY l.position"
        ).fetchall()
    return f"bank: {bank}\nledger: {ledger}"


def _position(container: Container, name: str) -> int:
    return positions.read_position(container.db, name)


# -- segments (issue 11) ----------------------------------------------------------------------------
# Segments under chaos (issue 11): the saga and both effect workers run as 4 segments each, in 2 worker
# processes that both run every segment: a process leads the segments whose leader lock it holds and stands by
# for the others. A chaos thread SIGKILLs one of the processes while it leads segments (mid-batch, effects
# submitted and outcomes pending) and starts a fresh copy; the other takes over the dead one's segments from
# their recorded positions. The deadline timer (one sequence of deadlines, not segmentable) runs in a third
# process and is killed too. The sandboxes fail, time out and stall as in `test_settlement_killed_workers`,
# and afterwards every DOMAIN.md invariant holds (the same checks: each leg at most once, cash and tokens
# conserved, the ledger balanced and reconciled, holdings equal to the chain).

SEGMENTS = 4
SEGMENTED = ("settlement_saga", "settlement_payments", "settlement_chain")
SEGMENT_NAMES = tuple(f"{name}#{i}/{SEGMENTS}" for name in SEGMENTED for i in range(SEGMENTS))
PROCESSES = ("segments-a", "segments-b", "timer")


class SegmentedWorkers(Workers):
    """Two processes running every segment of the saga and the effect workers, and one running the timer."""

    ever_led: set[str]  # the processes seen leading segments at some point of the run

    def arguments(self, name: str) -> list[str]:
        if name == "timer":
            return ["settlement_timer"]
        return [*SEGMENTED, "--segments", str(SEGMENTS)]

    def leading(self, db: Database) -> set[str]:
        """The processes that hold at least one leader lock (their sessions carry `PGAPPNAME`)."""
        with db.cursor() as cur:
            rows = cur.execute(
                "SELECT DISTINCT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                " AND ((l.classid::bigint << 32) | l.objid::bigint) = ANY(SELECT hashtextextended('follower:'"
                " || n, 0) FROM unnest(%s::text[]) AS n)",
                ([*SEGMENT_NAMES, "settlement_timer"],),
            ).fetchall()
        leading = {str(r[0]).removeprefix("bf-worker-") for r in rows}
        self.ever_led |= leading
        return leading

    def all_led(self, db: Database) -> bool:
        """Every segment and the timer have a leader (in either segment process: whichever took the lock)."""
        every = {*SEGMENT_NAMES, "settlement_timer"}
        return leaders(db, every) == every

    def positions(self) -> tuple[str, ...]:
        return SEGMENT_NAMES


@pytest.fixture
def segmented_workers(
    container: Container, settings: Settings, tmp_path: Path, anchor: datetime
) -> Iterator[SegmentedWorkers]:
    for name in SETTLEMENT_WORKERS:
        container.followers[name].stop()
        container.running.remove(name)
    pool = SegmentedWorkers(settings, tmp_path, anchor)
    pool.ever_led = set()
    for name in PROCESSES:
        pool.start(name)
    yield pool
    pool.stop_all()


def test_segments_over_two_killed_processes_keep_every_invariant(
    client: TestClient, container: Container, segmented_workers: SegmentedWorkers
) -> None:
    settle_under_chaos(client, container, segmented_workers)
    with container.db.cursor() as cur:
        segments = {
            str(name)
            for (name,) in cur.execute(
                "SELECT name FROM projection_positions WHERE name = ANY(%s)", (list(SEGMENT_NAMES),)
            ).fetchall()
        }
    assert segments == set(SEGMENT_NAMES)  # every segment kept its own position
    # both segment processes led segments during the run: a killed one's segments moved to the other
    assert {"segments-a", "segments-b"} <= segmented_workers.ever_led, segmented_workers.ever_led
