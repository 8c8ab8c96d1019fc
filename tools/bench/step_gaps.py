"""Where an order's time goes: for every aggregate in the log, the time between each of its events and
the next (by the events' own timestamps), summarised per step (`Settlement.Started → Settlement.X`). Used
by `filled_at_rate --steps` against the run's database before it is dropped."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime

import orjson
import psycopg


def step_gaps(url: str, *, top: int = 12) -> list[str]:
    """Lines `from → to: median, p90, n`, the slowest `top` steps by median first."""
    gaps: dict[str, list[float]] = defaultdict(list)
    last: dict[str, tuple[str, datetime]] = {}
    with psycopg.connect(url) as conn, conn.cursor(name="steps") as cur:
        cur.execute("SELECT originator_id::text, topic, state FROM bondflow_events ORDER BY notification_id")
        for originator, topic, state in cur:
            name = str(topic).rpartition(":")[2]
            stamp = orjson.loads(bytes(state)).get("timestamp")
            if not isinstance(stamp, dict | str):
                continue
            at = datetime.fromisoformat(stamp["_data_"] if isinstance(stamp, dict) else stamp)
            before = last.get(originator)
            if before is not None:
                gaps[f"{before[0]} → {name}"].append((at - before[1]).total_seconds() * 1000)
            last[originator] = (name, at)
    rows = []
    for step, values in gaps.items():
        values.sort()
        rows.append((statistics.median(values), values[int(0.9 * (len(values) - 1))], len(values), step))
    rows.sort(reverse=True)
    return [f"{step}: median {m:,.0f} ms, p90 {p:,.0f} ms, n={n}" for m, p, n, step in rows[:top]]
