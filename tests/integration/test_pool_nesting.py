"""One pooled connection per thread: the chain sandbox's holds used to read their fault switches on a second
connection while holding a first one and a per-wallet lock, so a pool as small as the callers' concurrency
deadlocked until PoolTimeout (the fault suite's failure in CI). The pool refuses a nested request; the
adapters read and consume their switches on the connection they hold; an injected failure still consumes
its one-shot switch, although it rolls back nothing else."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bondflow.adapters.chain_port import ChainUnavailable
from bondflow.adapters.chain_sandbox import SandboxChain
from bondflow.adapters.postgres import NESTED_SITES, Database, NestedConnection
from bondflow.adapters.sandbox_faults import DDL as FAULTS_DDL
from bondflow.adapters.sandbox_faults import SharedFaults
from bondflow.runtime.clock import ManualClock

pytestmark = pytest.mark.integration

ISIN = "INE123A07043"
CALLERS = 8


@pytest.fixture
def small_pool(database_url: str) -> Any:
    db = Database(database_url, pool_size=2, name="small", nested="refuse")
    db.open()
    yield db
    db.close()
    NESTED_SITES.clear()  # what this module provokes on purpose


def test_a_nested_request_is_refused_and_names_its_site(small_pool: Database) -> None:
    with small_pool.cursor(), pytest.raises(NestedConnection, match=r"test_pool_nesting\.py"):  # noqa: SIM117
        with small_pool.cursor():
            pass
    with small_pool.cursor() as cur:  # the failed attempt left nothing held
        assert cur.execute("SELECT 1").fetchone() == (1,)


def test_commit_on_commits_what_was_done_before_the_error_and_raises_it(small_pool: Database) -> None:
    with small_pool.transaction() as cur:
        cur.execute("CREATE TABLE marks (n int)")
    with pytest.raises(ValueError), small_pool.transaction(commit_on=(ValueError,)) as cur:
        cur.execute("INSERT INTO marks VALUES (1)")
        raise ValueError("injected")
    with pytest.raises(KeyError), small_pool.transaction(commit_on=(ValueError,)) as cur:
        cur.execute("INSERT INTO marks VALUES (2)")
        raise KeyError("anything else rolls back")
    with small_pool.cursor() as cur:
        assert cur.execute("SELECT array_agg(n) FROM marks").fetchone() == ([1],)


def test_holds_on_one_wallet_from_more_callers_than_connections_all_finish(small_pool: Database) -> None:
    """Eight callers, two connections, every hold on the dealer's one wallet (one lock), faults on: with
    the switches read on a second connection this waited 10 s per caller and raised PoolTimeout."""
    small_pool.create_tables("sandbox_faults", FAULTS_DDL)
    faults = SharedFaults(small_pool, "chain", seed=3)
    chain = SandboxChain(small_pool, ManualClock(datetime(2026, 12, 2, tzinfo=UTC)), faults=faults)
    chain.setup()
    faults.set("hold_fail_rate", 0.3)
    faults.set("hold_fail_next")
    expires = datetime(2026, 12, 3, tzinfo=UTC)

    def hold(n: int) -> str:
        return chain.hold(ISIN, "dealer:alpha", f"investor:{n}", Decimal(1), expires, f"hold-{n}").status

    with ThreadPoolExecutor(CALLERS) as callers:
        outcomes = list(callers.map(hold, range(4 * CALLERS), timeout=60))
    assert len(outcomes) == 4 * CALLERS and {"HELD", "FAILED"} == set(outcomes), outcomes
    assert not faults.switches().get("hold_fail_next", 0), "the one-shot was consumed by one hold"
    assert not NESTED_SITES


def test_an_injected_timeout_consumes_its_one_shot_and_records_nothing_else(small_pool: Database) -> None:
    small_pool.create_tables("sandbox_faults", FAULTS_DDL)
    faults = SharedFaults(small_pool, "chain")
    chain = SandboxChain(small_pool, ManualClock(datetime(2026, 12, 2, tzinfo=UTC)), faults=faults)
    chain.setup()
    faults.set("timeout_next")
    expires = datetime(2026, 12, 2, tzinfo=UTC) + timedelta(days=1)
    with pytest.raises(ChainUnavailable):
        chain.hold(ISIN, "dealer:alpha", "investor:1", Decimal(1), expires, "hold-t")
    assert "timeout_next" not in faults.switches(), "the timeout fired once: a retry goes through"
    assert chain.hold_status("hold-t") is None, "the timed-out call recorded no hold"
    assert chain.hold(ISIN, "dealer:alpha", "investor:1", Decimal(1), expires, "hold-t").status == "HELD"
