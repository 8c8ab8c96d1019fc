"""`bondflow replay`: rebuild every read model from the log into fresh tables, optionally only up to a log
position or a time, compare checksums with the live read models, and optionally switch them over.

Replay builds projectors only (no saga, no effect worker, no relay), so it has no path to an adapter.
PostgreSQL read models are rebuilt in a fresh schema (`replay_<stamp>`), ClickHouse ones in a fresh database
(`<db>_replay_<stamp>`). A checksum is an MD5 over every row of a table in primary-key order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from psycopg import sql

from bondflow.adapters.clickhouse import ClickHouse
from bondflow.adapters.postgres import Database, conninfo
from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.followers import Follower
from bondflow.runtime.heap import fewer_young_collections
from bondflow.runtime.log_reader import decode, select_after
from bondflow.wiring.replay_bulk_load import bulk_load, set_logged
from bondflow.wiring.replay_lanes import Builder, ElsewhereLanes, Lanes

BATCH = 2000

REGULATOR_STREAM = (
    "regulator_stream"  # rebuilt and compared, never switched: its seq and hashes are published
)


def owned_tables(followers: Sequence[Follower]) -> dict[str, str]:
    """Every table the read models own → the columns that order its rows (each projector's `tables`)."""
    return {t: key for f in followers for t, key in getattr(f, "tables", {}).items()}


def derived_columns(followers: Sequence[Follower]) -> dict[str, tuple[str, ...]]:
    """Columns a read model derives from its other columns for speed (`derived`), left out of checksums:
    rows written before such a column existed hold none, and the facts it derives from are compared."""
    return {t: cols for f in followers for t, cols in getattr(f, "derived", {}).items()}


@dataclass
class ReplayReport:
    upto: int
    events: int
    seconds: float
    pg_schema: str
    ch_database: str | None
    checksums: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # table → (replayed, live)

    @property
    def matches(self) -> bool:
        return all(live is None or replayed == live for replayed, live in self.checksums.values())


def resolve_upto(store: EventStore, db: Database, as_of: str | None) -> int:
    """`as_of` is a log position (digits) or an ISO-8601 time; None means the head of the log."""
    head = store.head_position()
    if as_of is None:
        return head
    if as_of.isdigit():
        return min(int(as_of), head)
    moment = datetime.fromisoformat(as_of)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return last_position_at(store, moment, head)


def last_position_at(store: EventStore, moment: datetime, head: int) -> int:
    """The last log position recorded at or before `moment`. Stored events keep their time inside the
    event, so this reads the log (in batches) until it passes `moment`."""
    found, start = 0, 1
    while start <= head:
        notifications = store.recorder.select_notifications(start=start, limit=BATCH, stop=head)
        if not notifications:
            break
        for notification in notifications:
            event: Any = store.mapper.to_domain_event(notification)
            if event.timestamp > moment:
                return found
            found = notification.id
        start = notifications[-1].id + 1
    return found


# a process of its own costs about 1.5 s to start (imports), and it decodes its events again: below this
# many events everything runs here (at 100,000 events the two ways take the same time on 2 cores)
ELSEWHERE_FROM = 200_000


def feed(
    store: EventStore,
    followers: Sequence[Follower],
    upto: int,
    progress: Callable[[int, int], None] | None = None,
    *,
    elsewhere: Sequence[Mapping[str, Builder]] = (),
    replica: Database | None = None,
    elsewhere_from: int = ELSEWHERE_FROM,
) -> int:
    """Read the log once, in batches filtered in SQL to the topics any follower wants, decode each event
    once, and hand each follower the events it follows. Returns the events read.

    Each follower applies its batches in order in its own thread while the next batch is read, so one
    read model's database round trips overlap with another's Python work and with the reading. A follower
    is handed only batches that hold events for it (`Lanes`). With `elsewhere` (one mapping per process:
    follower name → how to build it there, in `replica`) and a log of at least `elsewhere_from` events,
    those followers run in processes of their own, each sent the rows of its followers' topics as they are
    read (`ElsewhereLanes`); the instances in `followers` with those names are then only descriptions
    (their tables, for the checksums). With every follower elsewhere, this process only reads and sends.

    `replica` is the fresh database the read models are built in: its tables are loaded unlogged and its
    secondary indexes built once the load is done (`bulk_load`). Never pass the live database."""
    groups = [dict(group) for group in elsewhere if group] if upto >= elsewhere_from else []
    if groups and replica is None:
        raise ValueError("read models elsewhere are built in a replica database: pass `replica`")
    names = [name for group in groups for name in group]
    if len(names) != len(set(names)):
        raise ValueError(f"a read model to build in two processes: {sorted(names)}")
    unknown = set(names) - {f.name for f in followers}
    if unknown:  # its topics would be unknown here: it would be sent nothing and still moved to the end
        raise ValueError(f"no follower named {sorted(unknown)} to build elsewhere")
    with fewer_young_collections(), bulk_load(replica, followers) if replica is not None else nullcontext():
        return _feed(store, followers, upto, progress, groups, replica)


def _feed(
    store: EventStore,
    followers: Sequence[Follower],
    upto: int,
    progress: Callable[[int, int], None] | None,
    groups: list[dict[str, Builder]],
    replica: Database | None,
) -> int:
    away = {name for group in groups for name in group}
    here = [f for f in followers if f.name not in away]
    topics = frozenset().union(*(f.topics for f in followers))
    lanes = Lanes(here)
    others: list[ElsewhereLanes] = []
    start, read = 0, 0
    try:
        for group in groups:
            wanted = frozenset().union(*(f.topics for f in followers if f.name in group))
            others.append(ElsewhereLanes(list(group.values()), wanted, store, cast(Database, replica)))
        while start < upto:
            rows, last = select_after(store, start, topics, BATCH, stop=upto)
            if last <= start:
                break
            for other in others:
                other.hand(rows, last)
            lanes.hand(decode(store, rows) if here else [], last)
            read += len(rows)
            start = last
            if progress is not None:
                progress(read, last)
        for other in others:
            other.finish(start)
        lanes.finish(start)
    finally:
        lanes.close()
        for other in others:
            other.close()
    return read


def pg_checksum(
    db: Database, table: str, order_by: str, schema: str, leave_out: Sequence[str] = ()
) -> str | None:
    with db.cursor() as cur:
        exists = cur.execute("SELECT to_regclass(%s)", (f"{schema}.{table}",)).fetchone()
        if not exists or exists[0] is None:
            return None
        row_text = sql.SQL("(to_jsonb(t) - {cols}::text[])::text").format(cols=sql.Literal(list(leave_out)))
        row = cur.execute(
            sql.SQL(
                "SELECT md5(coalesce(string_agg({row}, E'\\n' ORDER BY {order}), '')) FROM {schema}.{table} AS t"
            ).format(
                row=row_text if leave_out else sql.SQL("t::text"),
                order=sql.SQL(", ".join(f"t.{c.strip()}" for c in order_by.split(","))),
                schema=sql.Identifier(schema),
                table=sql.Identifier(table),
            )
        ).fetchone()
    return None if row is None else str(row[0])


def ch_checksum(ch: ClickHouse, database: str, table: str, order_by: str) -> str | None:
    try:
        rows = ch.query(
            f"SELECT lower(hex(MD5(arrayStringConcat(groupArray(line), '\\n')))) FROM"
            f" (SELECT toString(tuple(*)) AS line FROM {database}.{table} FINAL ORDER BY {order_by})"
        )
    except Exception:  # the table does not exist in that database
        return None
    return str(rows[0][0]) if rows else None


def replay_database(db: Database, schema: str) -> Database:
    """A pool whose unqualified table names resolve in `schema` (where the rebuilt read models go)."""
    with db.transaction() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    replica = Database(
        conninfo(db.url, options=f"-c search_path={schema}"),
        pool_size=8,
        name=f"replay-{schema}",
        nested=db.nested,
    )
    replica.open()
    return replica


def stamp() -> str:
    return time.strftime("%Y%m%d%H%M%S")


SWITCH_ATTEMPTS = 5


def switch_over(db: Database, schema: str, tables: list[str], followers: list[str]) -> str:
    """Atomically move the rebuilt tables into `public` (the old ones into a backup schema) and set the
    replayed followers' positions, in one transaction.

    The switch locks the tables one after another while live projectors keep writing them; a projector
    that holds one of them and waits for another the switch already holds is a deadlock, which PostgreSQL
    breaks by aborting one side. Either side may retry: the switch's transaction changed nothing, so it
    is tried again (a projector's batch likewise)."""
    attempt = 1
    while True:
        try:
            return _switch_once(db, schema, tables, followers)
        except psycopg.errors.DeadlockDetected:
            if attempt == SWITCH_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)
            attempt += 1


def _switch_once(db: Database, schema: str, tables: list[str], followers: list[str]) -> str:
    backup = f"replaced_{stamp()}"
    with db.transaction() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(backup)))
        for table in tables:
            cur.execute("SELECT to_regclass(%s)", (f"public.{table}",))
            found = cur.fetchone()
            if found is not None and found[0] is not None:
                cur.execute(
                    sql.SQL("ALTER TABLE public.{} SET SCHEMA {}").format(
                        sql.Identifier(table), sql.Identifier(backup)
                    )
                )
            cur.execute(
                sql.SQL("ALTER TABLE {}.{} SET SCHEMA public").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
            )
        cur.execute(
            sql.SQL(
                "INSERT INTO public.projection_positions (name, position) SELECT name, position FROM {}.projection_positions"
                " WHERE name = ANY(%s) ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position, updated_at = now()"
            ).format(sql.Identifier(schema)),
            (followers,),
        )
        # a follower run in segments: every segment starts again from the rebuilt position
        cur.execute(
            sql.SQL(
                "UPDATE public.projection_positions AS p SET position = r.position, updated_at = now()"
                " FROM {}.projection_positions AS r WHERE r.name = ANY(%s) AND p.name LIKE r.name || '#%%'"
            ).format(sql.Identifier(schema)),
            (followers,),
        )
    return backup


def run_replay(
    store: EventStore,
    db: Database,
    pg_projectors: Callable[[Database], Sequence[Follower]],
    clickhouse: ClickHouse | None,
    ch_projectors: Callable[[ClickHouse], Sequence[Follower]],
    *,
    as_of: str | None = None,
    switch: bool = False,
    progress: Callable[[int, int], None] | None = None,
    elsewhere: Sequence[Mapping[str, Builder]] = (),
) -> ReplayReport:
    """Rebuild, compare (against the live read models when replaying to the head), optionally switch."""
    head = store.head_position()
    upto = head if as_of is None else resolve_upto(store, db, as_of)
    # a rebuild of the whole log as it stood when we began (the head read once: a write committed between
    # two reads of it made a replay to the head look like one to the past, and refused its switch)
    from_head = upto >= head
    schema = f"replay_{stamp()}_{time.monotonic_ns() % 10000:04d}"
    replica = replay_database(db, schema)
    pg_followers: list[Follower] = list(pg_projectors(replica))
    ch_followers: list[Follower] = []
    ch_replica: ClickHouse | None = None
    if clickhouse is not None:
        ch_replica = ClickHouse(clickhouse.dsn, f"{clickhouse.database}_{schema}")
        ch_followers = list(ch_projectors(ch_replica))
    followers = [*pg_followers, *ch_followers]
    started = time.perf_counter()
    try:
        for follower in followers:
            follower.setup()
        events = feed(store, followers, upto, progress, elsewhere=elsewhere, replica=replica)
    finally:
        replica.close()
    report = ReplayReport(
        upto,
        events,
        time.perf_counter() - started,
        schema,
        None if ch_replica is None else ch_replica.database,
    )
    pg_tables, ch_tables = owned_tables(pg_followers), owned_tables(ch_followers)
    _compare(report, db, pg_tables, derived_columns(pg_followers), at_head=upto == store.head_position())
    if clickhouse is not None and ch_replica is not None:
        _compare_clickhouse(report, clickhouse, ch_replica, ch_tables, at_head=upto == store.head_position())
    if switch:
        # events recorded since the rebuild began are fine: the live runners re-read the positions the
        # switch sets and carry on from there (a batch begun before it fails to record and starts over)
        if not from_head:
            raise ValueError("only a replay to the head of the log can replace the live read models")
        tables = [
            t for t, key in pg_tables.items() if t != REGULATOR_STREAM and pg_checksum(db, t, key, schema)
        ]
        set_logged(db, schema, tables)  # before the switch's locks: each table is rewritten into the WAL
        switch_over(db, schema, tables, [f.name for f in pg_followers if f.name != REGULATOR_STREAM])
    return report


def _compare(
    report: ReplayReport,
    db: Database,
    tables: dict[str, str],
    derived: dict[str, tuple[str, ...]],
    *,
    at_head: bool,
) -> None:
    """Checksums of every rebuilt table, beside the live one's when the replay reached the head of the log."""
    for table, order_by in tables.items():
        leave_out = derived.get(table, ())
        replayed = pg_checksum(db, table, order_by, report.pg_schema, leave_out)
        if replayed is not None:
            live = pg_checksum(db, table, order_by, "public", leave_out) if at_head else None
            report.checksums[f"postgres:{table}"] = (replayed, live)


def _compare_clickhouse(
    report: ReplayReport, live: ClickHouse, replica: ClickHouse, tables: dict[str, str], *, at_head: bool
) -> None:
    for table, order_by in tables.items():
        replayed = ch_checksum(live, replica.database, table, order_by)
        if replayed is not None:
            current = ch_checksum(live, live.database, table, order_by) if at_head else None
            report.checksums[f"clickhouse:{table}"] = (replayed, current)


def drop_schema(db: Database, schema: str) -> None:
    with db.transaction() as cur:
        cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def as_of_moment(store: EventStore, upto: int) -> datetime | None:
    """When the event at log position `upto` was recorded (the 'then' of an as-of answer)."""
    notifications = store.recorder.select_notifications(start=upto, limit=1, stop=upto)
    if not notifications:
        return None
    event: Any = store.mapper.to_domain_event(notifications[0])
    moment: datetime = event.timestamp
    return moment
