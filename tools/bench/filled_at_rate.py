"""`python -m tools.bench.filled_at_rate`: orders at a fixed arrival rate over HTTP against a real
`bondflow serve` (followers in its worker process), spread over many funded investors, with the providers'
latency set as settings (the "realistic" profile: chain finality 2 s, payouts 1 s, dealer quotes 0.15 s;
or "zero"). Reports the `POST /v1/orders` ack latency (from each request's intended send time), the
order → FILLED latency (intended send time → the event that made the order FILLED, read from the read
model), 5xx answers, and the follower lag during the run and 5 s after it."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg

from tools.bench import command_path, load_targets
from tools.bench.cpu import cpu_by_role
from tools.bench.database import fresh_database, postgres_server
from tools.bench.server import running_server
from tools.bench.setup import BOND, ORDER, mint_tokens, prepare
from tools.bench.step_gaps import step_gaps

# a limit at the reference price + 1 %, as a new user would set it (dealers quote a BUY above the reference)
LIMIT = str((Decimal(str(BOND["reference_clean_price"])) * Decimal("1.01")).quantize(Decimal("0.01")))
BUY = {**ORDER, "limit_clean_price": LIMIT}

PROFILES = {
    "realistic": {
        "BONDFLOW_CHAIN_SANDBOX_FINALITY_SECONDS": "2",
        "BONDFLOW_PAYOUT_SANDBOX_DELAY_SECONDS": "1",
        "BONDFLOW_VENUE_QUOTE_DELAY_SECONDS": "0.15",
    },
    "zero": {
        "BONDFLOW_CHAIN_SANDBOX_FINALITY_SECONDS": "0",
        "BONDFLOW_PAYOUT_SANDBOX_DELAY_SECONDS": "0",
        "BONDFLOW_VENUE_QUOTE_DELAY_SECONDS": "0",
        "BONDFLOW_PAYMENTS_SANDBOX_DELAY_SECONDS": "0",
    },
}


percentile = load_targets.percentile


async def offer(
    base: str, tokens: list[str], rate: float, seconds: float
) -> list[tuple[str | None, float, float, int]]:
    """(order id, intended send time (epoch), ack latency, status) for every request sent at `rate`/s."""
    results: list[tuple[str | None, float, float, int]] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=10, limits=limits) as http:

        async def one(index: int, due_mono: float, due_wall: float) -> None:
            await asyncio.sleep(max(0.0, due_mono - time.monotonic()))
            headers = {
                "Authorization": f"Bearer {tokens[index % len(tokens)]}",
                "Idempotency-Key": uuid.uuid4().hex,
            }
            try:
                answer = await http.post("/v1/orders", json=BUY, headers=headers)
                status = answer.status_code
                order_id = (answer.json().get("data") or {}).get("order_id") if status == 202 else None
            except httpx.HTTPError:
                status, order_id = 0, None
            results.append((order_id, due_wall, time.monotonic() - due_mono, status))

        start_mono, start_wall = time.monotonic() + 0.2, time.time() + 0.2
        count = int(rate * seconds)
        await asyncio.gather(*(one(i, start_mono + i / rate, start_wall + i / rate) for i in range(count)))
    return results


def filled_at(url: str, order_ids: list[str], within: float) -> dict[str, tuple[str, float]]:
    """Each order's status and the epoch time of its last change, once none is left in flight."""
    deadline = time.monotonic() + within
    while True:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT order_id::text, status, updated_at FROM orders_view WHERE order_id = ANY(%s::uuid[])",
                (order_ids,),
            ).fetchall()
        found = {r[0]: (str(r[1]), r[2].timestamp()) for r in rows}
        done = all(
            found.get(o, ("NEW", 0))[0] in {"FILLED", "PARTIAL", "CANCELLED", "REJECTED"} for o in order_ids
        )
        if done or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def log_head(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT coalesce(max(notification_id), 0) FROM bondflow_events").fetchone()
    return int(row[0]) if row else 0


def transactions(url: str) -> int:
    """Transactions committed in the database so far (pg_stat_database)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def appended_since(url: str, head: int) -> dict[str, int]:
    """Events appended to the log after position `head`, by topic."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT topic, count(*) FROM bondflow_events WHERE notification_id > %s GROUP BY topic", (head,)
        ).fetchall()
    return {str(topic): int(n) for topic, n in rows}


def appends_since(url: str, head: int) -> tuple[int, list[tuple[str, int]]]:
    """Transactions that appended to the log after `head` (distinct `xmin`), and the commonest shapes
    (the topics one append wrote, in order) with their counts."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT shape, count(*) FROM (SELECT xmin::text AS x, string_agg(split_part(topic, '.', 3), '+'"
            " ORDER BY notification_id) AS shape FROM bondflow_events WHERE notification_id > %s GROUP BY 1)"
            " AS a GROUP BY shape ORDER BY 2 DESC",
            (head,),
        ).fetchall()
    return sum(int(n) for _, n in rows), [(str(shape), int(n)) for shape, n in rows]


def watch_lag(base: str, stop: threading.Event, samples: list[int], worst: dict[str, int]) -> None:
    """Once a second: the summed lag into `samples`, and each follower's largest lag so far into `worst`."""
    while not stop.is_set():
        lags = command_path.follower_lags(base)
        if lags is not None:
            samples.append(sum(lags.values()))
            for name, lag in lags.items():
                worst[name] = max(worst.get(name, 0), lag)
        time.sleep(1.0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.filled_at_rate", description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument(
        "--rates",
        type=lambda text: [float(r) for r in text.split(",")],
        help="comma-separated rates, each run on a fresh server: reports the highest that meets every target",
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--investors", type=int, default=40)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="realistic")
    parser.add_argument("--steps", action="store_true", help="print the slowest steps between events")
    args = parser.parse_args(argv)
    os.environ.update(PROFILES[args.profile])
    runs = [run_at(rate, args) for rate in (args.rates or [args.rate])]
    if args.rates:
        print(f"rates tried, {args.profile} profile, {args.seconds:g} s each:")
        for run in runs:
            print(f"  {load_targets.verdict(run)}")
        passing = [run.rate for run in runs if load_targets.meets_all(run)]
        print(
            f"  highest rate meeting every target: {f'{max(passing):g}/s' if passing else 'none of those tried'}"
        )


def run_at(rate: float, args: argparse.Namespace) -> load_targets.RunFigures:
    """One run at `rate` on a fresh server and database; prints its figures and its verdict."""
    workdir = Path(tempfile.mkdtemp(prefix="bf-bench-rate-"))
    with (
        postgres_server(workdir) as admin_url,
        fresh_database(admin_url) as url,
        running_server(url, workdir) as server,
    ):
        admin, tokens = mint_tokens(workdir / "var", args.investors)
        prepare(server.base, admin, tokens)
        command_path.wait_for_followers(server.base, 60)
        stop, lags, worst = threading.Event(), list[int](), dict[str, int]()
        watcher = threading.Thread(target=watch_lag, args=(server.base, stop, lags, worst), daemon=True)
        watcher.start()
        cpu0, wall0 = cpu_by_role(server.pid), time.monotonic()
        head0, xacts0 = log_head(url), transactions(url)
        sent = asyncio.run(offer(server.base, tokens, rate, args.seconds))
        ended = time.monotonic()
        during = list(lags)  # the lag sampled while orders arrived
        after = command_path.wait_for_followers(server.base, 60)
        cpu1, wall1 = cpu_by_role(server.pid), time.monotonic()
        stop.set()
        accepted = [s for s in sent if s[0]]
        outcome = filled_at(url, [str(s[0]) for s in accepted], 120)
        steps = step_gaps(url) if args.steps else []
        appended = appended_since(url, head0)
        appends, shapes = appends_since(url, head0)
        xacts = transactions(url) - xacts0
    acks = [s[2] * 1000 for s in sent]
    to_filled = [
        outcome[str(o)][1] - due for o, due, _, _ in accepted if outcome.get(str(o), ("",))[0] == "FILLED"
    ]
    statuses: dict[str, int] = {}
    for o, *_ in accepted:
        state = outcome.get(str(o), ("MISSING", 0.0))[0]
        statuses[state] = statuses.get(state, 0) + 1
    print(f"profile {args.profile}: {rate:g} orders/s for {args.seconds:g} s over {args.investors} investors")
    print(
        f"  POST /v1/orders ack p50 {percentile(acks, 0.5):.0f} ms, p99 {percentile(acks, 0.99):.0f} ms; "
        f"5xx {sum(1 for s in sent if s[3] >= 500)}, no answer within 10 s {sum(1 for s in sent if s[3] == 0)}, "
        f"other non-202 {sum(1 for s in sent if s[3] not in (0, 202) and s[3] < 500)}"
    )
    if to_filled:
        print(
            f"  order → FILLED median {statistics.median(to_filled):.2f} s, p99 {percentile(to_filled, 0.99):.2f} s"
        )
    print(f"  outcomes {statuses}")
    print(
        f"  follower lag during the run: max {max(lags) if lags else 'n/a'} events (samples {lags[:3]}…{lags[-3:]}); "
        f"drained {after:.1f} s after the last order ({time.monotonic() - ended:.1f} s incl. the FILLED wait)"
    )
    busy = {role: cpu1[role] - cpu0[role] for role in cpu0}
    per_order = 1000 / max(1, len(accepted))
    print(
        f"  CPU from the first order until the followers drained ({wall1 - wall0:.1f} s), cores used / ms per order: "
        + ", ".join(
            f"{role} {busy[role] / (wall1 - wall0):.2f} / {busy[role] * per_order:.1f}" for role in busy
        )
    )
    total = sum(appended.values())
    print(
        f"  PostgreSQL transactions committed {xacts} ({xacts * per_order / 1000:.1f} per order); "
        f"events appended {total} ({total * per_order / 1000:.1f} per order); most: "
        + ", ".join(
            f"{topic.rpartition('.')[2]} {n}"
            for topic, n in sorted(appended.items(), key=lambda kv: -kv[1])[:8]
        )
    )
    print(
        f"  appends {appends} ({appends * per_order / 1000:.1f} per order); most: "
        + ", ".join(f"{shape} {n}" for shape, n in shapes[:12])
    )
    behind = sorted(worst.items(), key=lambda kv: -kv[1])[:4]
    print("  most behind during the run: " + ", ".join(f"{name} {lag}" for name, lag in behind if lag))
    for line in steps:
        print(f"  step {line}")
    figures = load_targets.RunFigures(
        profile=args.profile,
        rate=rate,
        acks_ms=acks,
        to_filled_s=to_filled,
        sent=len(sent),
        accepted=len(accepted),
        filled=statuses.get("FILLED", 0),
        server_errors=sum(1 for s in sent if s[3] >= 500),
        unanswered=sum(1 for s in sent if s[3] == 0),
        lag_samples=during,
        drained_after_s=after,
    )
    print(f"  verdict: {load_targets.verdict(figures)}")
    print(f"  measured {datetime.now(UTC).isoformat(timespec='seconds')}")
    return figures


if __name__ == "__main__":
    main()
