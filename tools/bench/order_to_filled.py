"""`python -m tools.bench.order_to_filled`: how long a BUY takes from `POST /v1/orders` being accepted to
the order being FILLED (pre-trade checks, RFQ execution, DvP settlement of both legs with the sandbox payments
provider and chain), with every follower running in-process as `bondflow serve` runs them. Reports the
median and p90 over sequential orders; the brief's SLO is under 3 s."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from bondflow.domain.orders import Order, OrderStatus
from bondflow.security.principal import ROLE_SCOPES, Principal, Role
from bondflow.wiring.bootstrap import bootstrap
from commands.kernel.context import CommandContext
from commands.trading.orders import PlaceOrder
from tools.bench.database import fresh_database, postgres_server
from tools.bench.setup import VERIFIED, fund_directly, in_process_settings, list_bench_bond

TERMINAL = {OrderStatus.FILLED, OrderStatus.PARTIAL, OrderStatus.CANCELLED, OrderStatus.REJECTED}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.order_to_filled", description=__doc__)
    parser.add_argument("--orders", type=int, default=20)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bf-bench-filled-"))
    with postgres_server(workdir) as admin_url, fresh_database(admin_url) as url:
        settings = in_process_settings(url, workdir, clock_start=datetime(2026, 11, 25, 5, tzinfo=UTC))
        container = bootstrap(settings)  # real time, running from a trading day
        # the bench funds escrow directly: the provider's webhook for that deposit has no server to reach
        container.payments.provider.sender.deliver = lambda body, headers: 202
        latencies: list[float] = []
        outcomes: dict[str, int] = {}
        try:
            list_bench_bond(container)
            investor = Principal("bench-investor", Role.INVESTOR, ROLE_SCOPES[Role.INVESTOR], VERIFIED)
            fund_directly(container, investor.subject, Decimal(10_000_000))
            container.start_followers()
            command = PlaceOrder.from_body(
                {"isin": "INE123A07043", "side": "BUY", "qty": "1", "limit_clean_price": "102"}
            )
            for i in range(args.orders):
                started = time.perf_counter()
                accepted = container.trading.orders.place(command, CommandContext(investor, f"r{i}", f"k{i}"))
                order_id = accepted.data["order_id"]
                status = OrderStatus.PENDING
                while time.perf_counter() - started < 30:
                    order: Order = container.store.repository.get(uuid.UUID(str(order_id)))
                    status = order.status
                    if status in TERMINAL:
                        break
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - started)
                outcomes[status.value] = outcomes.get(status.value, 0) + 1
        finally:
            container.close()
    latencies.sort()
    p90 = latencies[int(0.9 * (len(latencies) - 1))]
    print(
        f"order accepted → FILLED: median {statistics.median(latencies) * 1000:,.0f} ms, p90 {p90 * 1000:,.0f} ms, "
        f"max {latencies[-1] * 1000:,.0f} ms over {len(latencies)} sequential BUYs; outcomes {outcomes}"
    )
    print("(includes RFQ execution and both DvP legs through the sandboxes; the brief's SLO is under 3 s)")


if __name__ == "__main__":
    main()
