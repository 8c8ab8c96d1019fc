"""ClickHouse through `clickhouse-connect`: a server over HTTP, or the in-process chDB engine by default.

chDB allows one data path per process and one process per path (ARCHITECTURE §5), so the client is made
once per process and shared by threads behind a lock; tests isolate by database name, not by path.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import clickhouse_connect

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_CHDB_CLIENTS: dict[str, Any] = {}
_CHDB_GUARD = threading.Lock()


def default_dsn(data_dir: Path) -> str:
    return f"chdb://{(data_dir / 'clickhouse').resolve()}"


def _client_for(dsn: str) -> Any:
    if not dsn.startswith("chdb"):
        return clickhouse_connect.get_client(dsn=dsn)
    with _CHDB_GUARD:
        if not _CHDB_CLIENTS:
            path = dsn.removeprefix("chdb://")
            if path:
                Path(path).mkdir(parents=True, exist_ok=True)
            _CHDB_CLIENTS[dsn] = clickhouse_connect.get_client(dsn=dsn)
        elif dsn not in _CHDB_CLIENTS:
            raise RuntimeError(
                f"chDB is already open on {next(iter(_CHDB_CLIENTS))} in this process; one path per process"
            )
        return _CHDB_CLIENTS[dsn]


class ClickHouse:
    """A thin, thread-safe handle on one ClickHouse database."""

    def __init__(self, dsn: str, database: str) -> None:
        if not _IDENT.match(database):
            raise ValueError(f"invalid ClickHouse database name {database!r}")
        self.dsn = dsn
        self.database = database
        self._opened: Any = None
        self._lock = threading.Lock()

    @property
    def _client(self) -> Any:
        """Opened on first use: a process that never queries ClickHouse (a PostgreSQL-only worker process
        beside a server that holds the embedded chDB path) never opens it."""
        if self._opened is None:
            self._opened = _client_for(self.dsn)
        return self._opened

    @property
    def embedded(self) -> bool:
        return self.dsn.startswith("chdb")

    def command(self, statement: str, parameters: dict[str, Any] | None = None) -> Any:
        with self._lock:
            return self._client.command(statement.replace("{db}", self.database), parameters=parameters)

    def query(self, statement: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self._lock:
            result = self._client.query(statement.replace("{db}", self.database), parameters=parameters)
            return list(result.result_rows)

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        if not rows:
            return
        with self._lock:
            self._client.insert(f"{self.database}.{table}", list(rows), column_names=list(columns))

    def ensure_database(self) -> None:
        self.command("CREATE DATABASE IF NOT EXISTS {db}")

    def ping(self) -> None:
        self.query("SELECT 1")
