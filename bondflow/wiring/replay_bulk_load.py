"""How a rebuild loads its fresh tables, as a bulk load should.

- **Unlogged.** The replica's tables take no write-ahead log while they load (at 1,000,000 events that was
  gigabytes of WAL for rows nobody reads until the rebuild is done). A replay that switches its tables in
  makes them logged first (`set_logged`, outside the switch's locks); one that only compares leaves them
  unlogged in its schema, which PostgreSQL empties after a crash (a rebuild is run again anyway).
- **Secondary indexes after the load.** Keeping one up to date row by row costs PostgreSQL more than
  sorting the finished table once (about 40 % of its work for the orders view and the regulator stream).
  Only what no projector needs while it applies events is deferred: every non-unique index of the tables
  the read models own, and the unique constraints a read model names in `built_after_load` (the regulator
  stream's `event_id` and `position`, which only guard against a duplicate). Primary keys and every other
  unique constraint stay: projectors update by them and `ON CONFLICT` needs them. A duplicate the deferred
  constraint would have refused fails the rebuild when the constraint is added back, so nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from bondflow.adapters.postgres import Database
from bondflow.runtime.followers import Follower

log = logging.getLogger(__name__)
MAINTENANCE_WORK_MEM = "256MB"  # per building session: a 1M-row index sorts in memory


@dataclass(frozen=True, slots=True)
class Deferred:
    table: str
    name: str
    definition: str  # `CREATE INDEX …` for an index, `UNIQUE (…)` for a constraint
    constraint: bool


def deferrable(replica: Database, followers: Sequence[Follower]) -> list[Deferred]:
    """What `indexes_after_load` would drop and build again, read from the catalog of the replica's schema."""
    tables = sorted({t for f in followers for t in getattr(f, "tables", {})})
    named = sorted({c for f in followers for c in getattr(f, "built_after_load", ())})
    with replica.cursor() as cur:
        indexes = cur.execute(
            "SELECT c.relname, i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid"
            " WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(%s)"
            " AND NOT x.indisunique AND NOT x.indisprimary ORDER BY 1, 2",
            (tables,),
        ).fetchall()
        constraints = cur.execute(
            "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k"
            " JOIN pg_class c ON c.oid = k.conrelid WHERE k.connamespace = current_schema()::regnamespace"
            " AND k.contype = 'u' AND k.conname = ANY(%s) ORDER BY 1, 2",
            (named,),
        ).fetchall()
        existing = set(_tables_with(cur, tables, "true"))
    found = {name for _, name, _ in constraints}
    for f in followers:  # a read model whose tables exist names a constraint its DDL does not create
        missing = set(getattr(f, "built_after_load", ())) - found
        if missing and existing & set(getattr(f, "tables", {})):
            raise LookupError(
                f"{f.name}: no unique constraint named {sorted(missing)} to build after the load"
            )
    return [Deferred(t, n, d, False) for t, n, d in indexes] + [
        Deferred(t, n, d, True) for t, n, d in constraints
    ]


@contextmanager
def bulk_load(replica: Database, followers: Sequence[Follower]) -> Iterator[list[Deferred]]:
    """Make the fresh replica's tables unlogged and drop their deferrable indexes before its load; build the
    indexes when it succeeds, each table's on a connection of its own (tables in parallel, a table's
    indexes one after another)."""
    deferred = deferrable(replica, followers)
    tables = sorted({t for f in followers for t in getattr(f, "tables", {})})
    with replica.transaction() as cur:
        for table in _tables_with(cur, tables, "relpersistence = 'p'"):
            cur.execute(sql.SQL("ALTER TABLE {} SET UNLOGGED").format(sql.Identifier(table)))
        for d in deferred:
            if d.constraint:
                cur.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                        sql.Identifier(d.table), sql.Identifier(d.name)
                    )
                )
            else:
                cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(d.name)))
    yield deferred
    by_table: dict[str, list[Deferred]] = {}
    for d in deferred:
        by_table.setdefault(d.table, []).append(d)
    if by_table:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(4, len(by_table)), thread_name_prefix="replay-index") as pool:
            for done in [pool.submit(_build, replica, items) for items in by_table.values()]:
                done.result()
        log.info("built %d deferred indexes in %.2f s", len(deferred), time.perf_counter() - started)


def _build(replica: Database, items: Sequence[Deferred]) -> None:
    with replica.transaction() as cur:
        cur.execute(sql.SQL("SET LOCAL maintenance_work_mem = {}").format(sql.Literal(MAINTENANCE_WORK_MEM)))
        for d in items:
            if d.constraint:
                cur.execute(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                        sql.Identifier(d.table), sql.Identifier(d.name), sql.SQL(d.definition)
                    )
                )
            else:
                cur.execute(sql.SQL(d.definition))


def _tables_with(cur: Any, tables: Sequence[str], condition: str) -> list[str]:
    """Those of `tables` that exist in the current schema as plain tables and meet `condition`."""
    rows = cur.execute(
        f"SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'"
        f" AND relname = ANY(%s) AND {condition} ORDER BY relname",
        (list(tables),),
    ).fetchall()
    return [str(r[0]) for r in rows]


def set_logged(db: Database, schema: str, tables: Sequence[str]) -> None:
    """Make the rebuilt `tables` of `schema` logged again (each rewritten once into the WAL) before they are
    switched in: a live read model must survive a crash."""
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = 'r' AND c.relname = ANY(%s) AND c.relpersistence = 'u'",
            (schema, list(tables)),
        ).fetchall()
    for (table,) in rows:
        with db.transaction() as cur:
            cur.execute(
                sql.SQL("ALTER TABLE {}.{} SET LOGGED").format(
                    sql.Identifier(schema), sql.Identifier(str(table))
                )
            )
