"""How far each follower is behind: the events of its own topics in the log after its position.

Counting every event after the position made a follower with nothing to do look behind by whatever the
others had been given since it last recorded its position (at most every second when none of its events
come up: `followers.EMPTY_RECORD_SECONDS`): at 10 orders/s, five such followers added up to about 1,300
events of "lag" that no work would ever reduce. A follower more than `COUNT_UP_TO` positions behind is
reported by the distance alone (an upper bound), so that a scrape never counts through a long stretch."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from psycopg import sql

from bondflow.runtime.eventstore import EventStore
from bondflow.runtime.log_reader import topic_array

COUNT_UP_TO = 50_000


def pending_events(
    store: EventStore, followers: Mapping[str, tuple[int, Collection[str]]], head: int
) -> dict[str, int]:
    """name → the events of its topics in (position, head], for each (position, topics) in `followers`;
    one statement for all of them."""
    lags = {name: max(0, head - position) for name, (position, _) in followers.items()}
    counted = {
        name: (position, topics)
        for name, (position, topics) in followers.items()
        if 0 < head - position <= COUNT_UP_TO
    }
    for name, (_, topics) in counted.items():
        if not topics:
            lags[name] = 0
    counted = {name: entry for name, entry in counted.items() if entry[1]}
    if not counted:
        return lags
    recorder: Any = store.recorder
    rows = sql.SQL(", ").join(
        sql.SQL("({}, {}::bigint, {}::text[])").format(
            sql.Literal(name), sql.Literal(position), sql.Literal(topic_array(frozenset(topics)))
        )
        for name, (position, topics) in counted.items()
    )
    statement = sql.SQL(
        "SELECT f.name, (SELECT count(*) FROM {t} AS e WHERE e.notification_id > f.position"
        " AND e.notification_id <= {head} AND e.topic = ANY(f.topics)) FROM (VALUES {rows}) AS f(name, position, topics)"
    ).format(
        t=sql.Identifier(recorder.datastore.schema, recorder.events_table_name),
        head=sql.Literal(head),
        rows=rows,
    )
    with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
        for row in curs.execute(statement).fetchall():
            values = list(row.values()) if isinstance(row, dict) else list(row)
            lags[str(values[0])] = int(values[1])
    return lags
