"""Latency of one shared rate-limit take (`TokenBuckets.take`: one UPSERT … RETURNING over two buckets, as
`POST /v1/orders` does) on the embedded PostgreSQL: one thread, four threads on four users, four threads
on one user (the same rows), and a new user every time (inserts).

    python -m tools.bench.rate_limits
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bondflow.adapters.rate_buckets import Bucket, TokenBuckets
from bondflow.runtime.clock import SystemClock
from tools.bench.database import fresh_database, postgres_server

Keys = Callable[[int, int], list[Bucket]]


def measure(buckets: TokenBuckets, keys: Keys, takes: int, threads: int) -> str:
    samples: list[float] = []
    lock = threading.Lock()

    def work(thread: int) -> None:
        mine = []
        for i in range(takes):
            started = time.perf_counter()
            buckets.take(keys(thread, i))
            mine.append(time.perf_counter() - started)
        with lock:
            samples.extend(mine)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    samples.sort()

    def ms(q: float) -> float:
        return samples[int(q * (len(samples) - 1))] * 1000

    return f"p50 {ms(0.5):.2f} ms, p99 {ms(0.99):.2f} ms, {len(samples) / wall:,.0f} takes/s"


def orders(user: str) -> list[Bucket]:
    return [
        Bucket("orders-per-minute", f"{user}|m", 10**9, 60),
        Bucket("orders-per-hour", f"{user}|h", 10**9, 3600),
    ]


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bf-bench-buckets-"))
    with postgres_server(workdir) as admin_url, fresh_database(admin_url) as url:
        buckets = TokenBuckets(url, SystemClock(), b"bench", pool_size=4)
        buckets.setup()
        try:
            measure(buckets, lambda t, i: orders(f"warm-{t}"), 200, 1)
            print("1 thread, one user:       ", measure(buckets, lambda t, i: orders("alice"), 2000, 1))
            print("4 threads, 4 users:       ", measure(buckets, lambda t, i: orders(f"user-{t}"), 1000, 4))
            print("4 threads, one user:      ", measure(buckets, lambda t, i: orders("hot"), 1000, 4))
            print("4 threads, new user each: ", measure(buckets, lambda t, i: orders(f"u-{t}-{i}"), 1000, 4))
        finally:
            buckets.close()


if __name__ == "__main__":
    main()
