"""`python -m tools.bench.order_paths`: orders per second through the full pre-trade path (KYC, tradability,
band, limits, funds, escrow and portfolio reservations) beside the walking skeleton's bare order path (an
order placed and accepted, nothing checked), measured in one run, in-process, on the same PostgreSQL."""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bondflow.domain.orders import Order
from bondflow.runtime.clock import ManualClock
from bondflow.security.principal import ROLE_SCOPES, Principal, Role
from bondflow.wiring.bootstrap import bootstrap
from commands.kernel.context import CommandContext
from commands.trading.orders import PlaceOrder
from tools.bench.database import fresh_database, postgres_server
from tools.bench.setup import VERIFIED, fund_directly, in_process_settings, list_bench_bond

BODY = {"isin": "INE123A07043", "side": "BUY", "qty": "1", "limit_clean_price": "101.25"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.order_paths", description=__doc__)
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--investors", type=int, default=8)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bf-bench-orders-"))
    with postgres_server(workdir) as admin_url, fresh_database(admin_url) as url:
        settings = in_process_settings(url, workdir)
        clock = ManualClock(datetime(2026, 11, 25, 5, tzinfo=UTC), tick=timedelta(microseconds=10))
        container = bootstrap(settings, clock=clock)
        try:
            list_bench_bond(container)
            principals = [
                Principal(f"bench-{i}", Role.INVESTOR, ROLE_SCOPES[Role.INVESTOR], VERIFIED)
                for i in range(args.investors)
            ]
            for principal in principals:
                fund_directly(container, principal.subject, Decimal(50_000_000))
            command = PlaceOrder.from_body(dict(BODY))

            started = time.perf_counter()
            for i in range(args.orders):
                order = Order(
                    id=uuid.uuid4(),
                    user_id=principals[i % len(principals)].subject,
                    isin=BODY["isin"],
                    side="BUY",
                    qty=Decimal(1),
                    limit_clean_price=Decimal("101.25"),
                    placed_at=clock.now(),
                    request_fingerprint="b",
                    actor_id="bench",
                    request_id=f"bare-{i}",
                )
                order.accept(actor_id="bench", request_id=f"bare-{i}")
                container.store.save(order)
            bare = args.orders / (time.perf_counter() - started)

            started = time.perf_counter()
            for i in range(args.orders):
                principal = principals[i % len(principals)]
                container.trading.orders.place(command, CommandContext(principal, f"full-{i}", f"key-{i}"))
            full = args.orders / (time.perf_counter() - started)
        finally:
            container.close()
    print(f"bare order path (skeleton: place + accept, no checks) {bare:>8,.1f} orders/s")
    print(
        f"full pre-trade path (checks + reservations)            {full:>8,.1f} orders/s   ratio {full / bare:.3f}"
    )
    print(f"({args.orders} orders each, {args.investors} investors, one thread, in-process, same PostgreSQL)")


if __name__ == "__main__":
    main()
