"""`python -m tools.bench.live_updates`: how late an investor's live updates arrive.

Sequential BUYs go PENDING → FILLED with their settlements while the investor follows `GET /v1/events`
(server-sent events, through the app in-process). For every update the delay is the time it arrived over
SSE minus the time its event was recorded (both on the container's clock). The baseline, measured in the
same run, is the same update seen by a reader polling the live-updates table every 5 ms: the projector's
part of the delay. API.md's target: within 100 ms of each event.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

from bondflow.api.app import create_app
from bondflow.domain.orders import Order, OrderStatus
from bondflow.runtime.positions import read_position
from bondflow.security.principal import ROLE_SCOPES, Principal, Role
from bondflow.wiring.bootstrap import bootstrap
from commands.kernel.context import CommandContext
from commands.trading.orders import PlaceOrder
from projections.live.queries import updates_after
from tools.bench.database import fresh_database, postgres_server
from tools.bench.setup import VERIFIED, fund_directly, in_process_settings, list_bench_bond

TERMINAL = {OrderStatus.FILLED, OrderStatus.PARTIAL, OrderStatus.CANCELLED, OrderStatus.REJECTED}
SUBJECT = "live-bench-investor"


def _follow_sse(
    client: TestClient, token: str, clock: Any, seen: dict[int, float], stop: threading.Event
) -> None:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    try:
        with client.stream("GET", "/v1/events", headers=headers) as stream:
            for line in stream.iter_lines():
                if line.startswith("id: "):
                    seen.setdefault(int(line[4:]), clock.now().timestamp())
                if stop.is_set():
                    return
    except Exception:  # the container closed under the open stream at the end of the run
        if not stop.is_set():
            raise


def _poll_table(container: Any, seen: dict[int, float], stop: threading.Event) -> None:
    after = 0
    while not stop.is_set():
        for update in updates_after(container.db, SUBJECT, after, 1000):
            seen.setdefault(update.position, container.clock.now().timestamp())
            after = update.position
        time.sleep(0.005)


def _wait_for_history(container: Any, *seen: dict[int, float]) -> int:
    """The funding updates recorded before the followers started are history, not live updates: wait
    until both readers have them, and measure only what comes after."""
    head = container.store.head_position()
    deadline = time.monotonic() + 30
    while read_position(container.db, "user_feed") < head and time.monotonic() < deadline:
        time.sleep(0.01)
    last = max((u.position for u in updates_after(container.db, SUBJECT, 0, 100_000)), default=0)
    while not all(last in reader for reader in seen) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)  # let the followers settle after start-up
    return last


def _delays(seen: dict[int, float], recorded: dict[int, float]) -> list[float]:
    return sorted((seen[p] - recorded[p]) * 1000 for p in recorded if p in seen)


def _summary(delays: list[float]) -> str:
    if not delays:
        return "no updates"
    p99 = delays[min(len(delays) - 1, int(0.99 * len(delays)))]
    return f"n={len(delays)} p50 {statistics.median(delays):,.1f} ms, p99 {p99:,.1f} ms, max {delays[-1]:,.1f} ms"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.live_updates", description=__doc__)
    parser.add_argument("--orders", type=int, default=15)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bf-bench-live-"))
    with postgres_server(workdir) as admin_url, fresh_database(admin_url) as url:
        settings = in_process_settings(url, workdir, clock_start=datetime(2026, 11, 25, 5, tzinfo=UTC))
        container = bootstrap(settings)  # real time, running from a trading day
        container.payments.provider.sender.deliver = lambda body, headers: 202
        over_sse: dict[int, float] = {}
        in_table: dict[int, float] = {}
        stop = threading.Event()
        readers: list[threading.Thread] = []
        try:
            list_bench_bond(container)
            investor = Principal(SUBJECT, Role.INVESTOR, ROLE_SCOPES[Role.INVESTOR], VERIFIED)
            fund_directly(container, SUBJECT, Decimal(10_000_000))
            container.start_followers()
            token = container.tokens.mint(SUBJECT, Role.INVESTOR, VERIFIED)
            client = TestClient(create_app(container))
            readers += [
                threading.Thread(
                    target=_follow_sse, args=(client, token, container.clock, over_sse, stop), daemon=True
                ),
                threading.Thread(target=_poll_table, args=(container, in_table, stop), daemon=True),
            ]
            for reader in readers:
                reader.start()
            history = _wait_for_history(container, over_sse, in_table)  # funding, before the run
            command = PlaceOrder.from_body(
                {"isin": "INE123A07043", "side": "BUY", "qty": "1", "limit_clean_price": "102"}
            )
            for i in range(args.orders):
                accepted = container.trading.orders.place(command, CommandContext(investor, f"r{i}", f"k{i}"))
                order_id = uuid.UUID(str(accepted.data["order_id"]))
                started = time.perf_counter()
                while time.perf_counter() - started < 30:
                    order: Order = container.store.repository.get(order_id)
                    if order.status in TERMINAL:
                        break
                    time.sleep(0.01)
            time.sleep(2.0)  # the last settlement's updates
            updates = updates_after(container.db, SUBJECT, 0, 100_000)
            recorded = {u.position: u.at.timestamp() for u in updates if u.position > history}
            names = {u.position: f"{u.kind}/{u.data.get('event')}" for u in updates}
        finally:
            stop.set()
            for reader in readers:
                reader.join(1.0)
            container.close()
    sse, table = _delays(over_sse, recorded), _delays(in_table, recorded)
    print(f"live updates for {args.orders} sequential BUYs to FILLED ({len(recorded)} updates recorded)")
    print(f"  read model visible (baseline, 5 ms poll): {_summary(table)}")
    print(f"  over GET /v1/events (SSE):                {_summary(sse)}")
    if sse and table:
        print(
            f"  ratio SSE ÷ baseline: p50 {statistics.median(sse) / max(statistics.median(table), 0.001):.2f}"
        )
    slowest = sorted(recorded, key=lambda p: over_sse.get(p, 1e18) - recorded[p], reverse=True)[:5]
    print(
        "  slowest over SSE: "
        + ", ".join(
            f"{names[p]} {(over_sse[p] - recorded[p]) * 1000:,.0f} ms" for p in slowest if p in over_sse
        )
    )
    print(orjson.dumps({"sse_ms": sse[:3], "missing_over_sse": len(recorded) - len(sse)}).decode())


if __name__ == "__main__":
    main()
