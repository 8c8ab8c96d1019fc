"""Replay rebuilds every read model from the log into fresh tables with the same checksums as the live ones,
answers as of an earlier position, and can switch over; the settlements it rebuilds (settled, failed and
pending ones) match the live view, which the deadline timer keeps reading undisturbed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from bondflow.runtime.clock import ManualClock
from bondflow.runtime.followers import wait_for_position
from bondflow.security.principal import Role
from bondflow.wiring.bootstrap import clickhouse_read_models, postgres_read_models
from bondflow.wiring.container import Container
from bondflow.wiring.replay import pg_checksum, replay_database, run_replay
from bondflow.wiring.seed import seed_demo
from projections.settlements import projector as settlements_view
from tests.conftest import bearer
from tests.integration.test_settlement import buy, eventually, order_in, settlement_of, trades_of

pytestmark = pytest.mark.integration


def caught_up(container: Container) -> None:
    head = container.store.head_position()
    for name in container.running:
        follower = container.followers[name].follower
        if name in {
            "orders_view",
            "instruments_view",
            "trades_view",
            "users_view",
            "regulator_stream",
            "order_flow",
            "fill_analytics",
            "holdings_view",
            "escrow_view",
            "settlements_view",
        }:
            assert wait_for_position(follower.position, head, timeout=30), name


def replay(container: Container, **kwargs: object) -> object:
    return run_replay(
        container.store,
        container.db,
        lambda db: postgres_read_models(db, container.signing_key),
        container.clickhouse,
        clickhouse_read_models,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_replay_reproduces_every_live_read_model(client: TestClient, container: Container) -> None:
    seed_demo(container.instruments)
    headers = bearer(container, sub="alice")
    for i in range(5):
        client.post(
            "/v1/orders",
            json={"isin": "INE123A07043", "side": "BUY", "qty": i + 1},
            headers={**headers, "Idempotency-Key": f"r{i}"},
        )
    client.post("/v1/instruments/INE123A07043/suspend", json={}, headers=bearer(container, Role.ADMIN))
    caught_up(container)
    report = replay(container)
    assert report.upto == container.store.head_position()  # type: ignore[attr-defined]
    checksums = report.checksums  # type: ignore[attr-defined]
    for table in (
        "postgres:orders_view",
        "postgres:instruments_view",
        "postgres:market_holidays",
        "postgres:regulator_stream",
        "clickhouse:order_flow",
    ):
        replayed, live = checksums[table]
        assert replayed == live, table
    assert report.matches  # type: ignore[attr-defined]


def test_a_replay_as_of_an_earlier_position_differs_from_now_and_switching_needs_the_head(
    client: TestClient, container: Container
) -> None:
    headers = bearer(container, sub="alice")
    first = client.post(
        "/v1/orders",
        json={"isin": "INE123A07043", "side": "BUY", "qty": 1},
        headers={**headers, "Idempotency-Key": "a"},
    ).json()
    client.post(f"/v1/orders/{first['data']['order_id']}/cancel", headers=headers)
    caught_up(container)
    earlier = replay(container, as_of=str(first["meta"]["position"]))
    with container.db.cursor() as cur:
        status = cur.execute(f'SELECT status FROM "{earlier.pg_schema}".orders_view').fetchone()  # type: ignore[attr-defined]
    assert status == ("PENDING",)
    with pytest.raises(ValueError, match="head"):
        replay(container, as_of="1", switch=True)


def test_switching_over_replaces_a_damaged_live_read_model(client: TestClient, container: Container) -> None:
    headers = bearer(container, sub="alice")
    client.post(
        "/v1/orders",
        json={"isin": "INE123A07043", "side": "BUY", "qty": 1},
        headers={**headers, "Idempotency-Key": "a"},
    )
    caught_up(container)
    good = pg_checksum(container.db, "orders_view", "order_id", "public")
    container.stop_followers()
    with container.db.transaction() as cur:
        cur.execute("UPDATE orders_view SET qty = 999")
    report = replay(container, switch=True)
    assert report.checksums["postgres:orders_view"][0] == good  # type: ignore[attr-defined]
    assert pg_checksum(container.db, "orders_view", "order_id", "public") == good
    with container.db.cursor() as cur:  # loaded unlogged, switched in logged: a live table survives a crash
        persistence = dict(
            cur.execute(
                "SELECT n.nspname || '.' || c.relname, c.relpersistence FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname IN ('orders_view', 'regulator_stream')"
                " AND c.relkind = 'r' AND n.nspname IN ('public', %s)",
                (report.pg_schema,),  # type: ignore[attr-defined]
            ).fetchall()
        )
    assert persistence["public.orders_view"] == "p"
    assert persistence[f"{report.pg_schema}.regulator_stream"] == "u"  # type: ignore[attr-defined]


def test_a_replay_after_trades_settlements_and_failures_matches_every_live_read_model(
    client: TestClient, container: Container
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(500_000))
    poor = bearer(container, sub="poor", funds=Decimal(10))
    for i, qty in enumerate(("3", "5", "8000")):  # the last one is far above alice's limits: refused
        client.post(
            "/v1/orders",
            json={"isin": "INE123A07043", "side": "BUY", "qty": qty, "limit_clean_price": "102"},
            headers={**alice, "Idempotency-Key": f"t{i}"},
        )
    client.post(
        "/v1/orders",
        json={"isin": "INE123A07043", "side": "BUY", "qty": "1"},
        headers={**poor, "Idempotency-Key": "p"},
    )  # refused: insufficient funds
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        trades = client.get("/v1/trades", headers=alice).json()["data"]
        if trades and all(t["settlement_state"] != "PENDING" for t in trades):
            break
        time.sleep(0.1)
    assert trades and all(t["settlement_state"] == "SETTLED" for t in trades)
    caught_up(container)
    report = replay(container)
    for table in (
        "postgres:orders_view",
        "postgres:trades_view",
        "postgres:holdings_view",
        "postgres:escrow_balances",
        "postgres:regulator_stream",
        "postgres:settlements_view",
        "postgres:ledger_entries",
        "postgres:ledger_lines",
        "postgres:ledger_balances",
        "clickhouse:order_flow",
        "clickhouse:fills",
    ):
        replayed, live = report.checksums[table]  # type: ignore[attr-defined]
        assert replayed == live, table
    assert report.matches  # type: ignore[attr-defined]


def settled_failed_and_pending(client: TestClient, container: Container) -> dict[str, str]:
    """One BUY settled, one whose token hold is refused (settlement FAILED) and one whose token transfer never
    becomes final (TOKEN_REQUESTED, waiting on its deadline). Returns the pending settlement."""
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice", funds=Decimal(100_000))
    order_in(client, alice, buy(client, alice, qty="3"), "FILLED")
    payments = container.followers["payment_effects"].follower  # the funding deposit went through it first
    assert wait_for_position(payments.position, container.store.head_position(), timeout=30)
    admin = bearer(container, Role.ADMIN)
    fault = client.post(
        "/v1/sandbox/faults", json={"target": "chain", "mode": "hold_fail_next"}, headers=admin
    )
    assert fault.status_code == 202, fault.text  # DvP: a refused token hold fails the settlement
    order_in(client, alice, buy(client, alice, qty="2"), "CANCELLED")
    stall = {"target": "chain", "mode": "stall_rate", "value": "1"}  # the chain stalls: never final
    assert client.post("/v1/sandbox/faults", json=stall, headers=admin).status_code == 202
    stalled = buy(client, alice, qty="1")
    (trade,) = eventually(lambda: trades_of(client, alice, stalled))
    pending = settlement_of(client, alice, trade["trade_id"], "TOKEN_REQUESTED")
    caught_up(container)
    return pending


def states_in(container: Container, schema: str) -> list[str]:
    with container.db.cursor() as cur:
        rows = cur.execute(f'SELECT state FROM "{schema}".settlements_view ORDER BY state').fetchall()
    return [r[0] for r in rows]


def test_a_replay_of_settled_failed_and_pending_settlements_matches_the_live_view_and_leaves_it_alone(
    client: TestClient, container: Container, clock: ManualClock
) -> None:
    pending = settled_failed_and_pending(client, container)
    live = pg_checksum(container.db, "settlements_view", "settlement_id", "public")
    report = replay(container)
    replayed, compared = report.checksums["postgres:settlements_view"]  # type: ignore[attr-defined]
    assert replayed == compared == live
    assert report.matches  # type: ignore[attr-defined]
    schema = report.pg_schema  # type: ignore[attr-defined]
    assert states_in(container, schema) == ["COMPLETED", "FAILED", "TOKEN_REQUESTED"]
    later = clock.now() + timedelta(hours=2)
    replica = replay_database(container.db, schema)
    try:
        with replica.cursor() as cur:
            assert [str(s) for s in settlements_view.due(cur, later)] == [pending["settlement_id"]]
    finally:
        replica.close()
    with container.db.cursor() as cur:
        assert [str(s) for s in settlements_view.due(cur, later)] == [pending["settlement_id"]]
    assert pg_checksum(container.db, "settlements_view", "settlement_id", "public") == live  # untouched

    clock.advance(timedelta(minutes=5))  # the deadline timer acts on the live view, not on the replica
    failed = settlement_of(client, bearer(container, sub="alice"), pending["trade_id"], "FAILED")
    assert failed["failure"]["code"] == "BF-SET-007"
    assert states_in(container, schema) == ["COMPLETED", "FAILED", "TOKEN_REQUESTED"]
    assert states_in(container, "public") == ["COMPLETED", "FAILED", "FAILED"]


def test_after_switching_over_the_deadline_timer_reads_the_rebuilt_settlements_view(
    client: TestClient, container: Container, clock: ManualClock
) -> None:
    pending = settled_failed_and_pending(client, container)
    before = pg_checksum(container.db, "settlements_view", "settlement_id", "public")
    report = replay(container, switch=True)
    assert report.checksums["postgres:settlements_view"] == (before, before)  # type: ignore[attr-defined]
    with container.db.cursor() as cur:
        moved = cur.execute("SELECT to_regclass(%s)", (f"{report.pg_schema}.settlements_view",)).fetchone()  # type: ignore[attr-defined]
        assert moved == (None,)  # the rebuilt table is now the live one
        for table in (
            "ledger_entries",
            "ledger_balances",
            "corporate_actions_view",
            "user_feed",
            "kyc_status_view",
        ):
            left = cur.execute("SELECT to_regclass(%s)", (f"{report.pg_schema}.{table}",)).fetchone()  # type: ignore[attr-defined]
            assert left == (None,), table  # every read model's tables are switched, not only some
    clock.advance(timedelta(minutes=5))
    failed = settlement_of(client, bearer(container, sub="alice"), pending["trade_id"], "FAILED")
    assert failed["failure"]["code"] == "BF-SET-007"
    assert states_in(container, "public") == ["COMPLETED", "FAILED", "FAILED"]


def test_switching_over_while_orders_keep_arriving_loses_none_of_them(container: Container) -> None:
    """The live followers keep running and the log keeps growing during the rebuild and the switch: runners
    re-read their recorded position each round, and a batch begun before the switch fails to record
    (PositionMoved) and starts again, so the events after the rebuilt head land in the switched-in tables."""
    from tests.integration.test_followers import write_orders

    write_orders(container, 300)
    caught_up(container)
    stop = threading.Event()
    written = [300]

    def keep_writing() -> None:
        while not stop.is_set():
            write_orders(container, 20)
            written[0] += 20
            time.sleep(0.02)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        time.sleep(0.3)
        report = replay(container, switch=True)
        time.sleep(0.3)
    finally:
        stop.set()
        writer.join(30)
    assert report.upto < container.store.head_position()  # type: ignore[attr-defined]  # events came after
    caught_up(container)
    with container.db.cursor() as cur:
        count = cur.execute("SELECT count(*), count(DISTINCT order_id) FROM orders_view").fetchone()
    assert count == (written[0], written[0])
    fresh = replay(container)  # a rebuild of the final log agrees with the live table
    replayed, live = fresh.checksums["postgres:orders_view"]  # type: ignore[attr-defined]
    assert replayed == live
