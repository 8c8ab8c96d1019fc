"""`min_position` (API.md Conventions): beyond the log is `400 BF-QRY-002` at once; waiting for a lagging
read model holds no worker thread (200 waiters leave /healthz answering) and is bounded (`503` + Retry-After)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from bondflow.api.app import create_app
from bondflow.runtime.followers import FollowerRunner
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer, fund
from tests.support.corporate_actions import list_bond, valid_isin

FAR = 4611686018427387903
BOND = {
    "coupon_rate": "8",
    "coupon_frequency": 2,
    "issue_date": "2026-01-15",
    "maturity_date": "2029-01-15",
    "day_count": "ACT/365F",
}


def _client(container: Container) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(container))
    return httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30)


@pytest.fixture
def lagging_instruments(container: Container) -> Iterator[int]:
    """Stop the instruments read model, list a bond (an event it applies), yield the head it has not
    reached; stop it again after."""
    container.followers["instruments_view"].stop()
    list_bond(container, isin=valid_isin(f"INE{uuid.uuid4().int % 10**6:06d}07"), **BOND)
    head = container.store.head_position()
    assert container.followers["instruments_view"].follower.position() < head
    yield head
    container.followers["instruments_view"].stop()


def _catch_up(container: Container) -> None:
    view = container.followers["instruments_view"].follower
    runner = FollowerRunner(view, container.store, container.db)
    container.followers["instruments_view"] = runner
    runner.start()


def test_a_read_model_that_nothing_since_touched_answers_at_once(container: Container) -> None:
    """The instruments view, stopped, lags the log; the events since are not its own (a deposit), so at
    the head it would look the same: a query with `min_position` at the head is answered, not kept
    waiting for the view to record a position. An instrument listed after that is its own: that waits."""
    investor = bearer(container, Role.INVESTOR, "quiet-reader")
    container.followers["instruments_view"].stop()
    view = container.followers["instruments_view"].follower
    fund(container, f"quiet-{uuid.uuid4().hex[:8]}", Decimal(1000))
    quiet_head = container.store.head_position()
    assert view.position() < quiet_head
    isin = list_bond(container, isin=valid_isin(f"INE{uuid.uuid4().int % 10**6:06d}07"), **BOND)
    listed_head = container.store.head_position()
    container.settings = container.settings.model_copy(update={"query_wait_seconds": 1.0})

    async def run() -> tuple[httpx.Response, httpx.Response]:
        async with _client(container) as client:
            quiet = await client.get("/v1/instruments", params={"min_position": quiet_head}, headers=investor)
            listed = await client.get(
                "/v1/instruments", params={"min_position": listed_head}, headers=investor
            )
            return quiet, listed

    quiet, listed = asyncio.run(run())
    assert view.position() < quiet_head  # nothing recorded meanwhile: the answer came from the log check
    assert quiet.status_code == 200, quiet.text
    assert isin not in {i["isin"] for i in quiet.json()["data"]}  # the view as it was, which is right
    assert listed.status_code == 503, listed.text
    assert listed.json()["error"]["code"] == "BF-QRY-001"


def test_a_position_beyond_the_log_is_refused_at_once(container: Container) -> None:
    investor = bearer(container, Role.INVESTOR, "far-reader")

    async def run() -> list[httpx.Response]:
        async with _client(container) as client:
            paths = ("/v1/trades", "/v1/orders", "/v1/instruments", "/v1/escrow/balance", "/v1/users/me")
            return await asyncio.gather(
                *(client.get(p, params={"min_position": FAR}, headers=investor) for p in paths)
            )

    started = time.monotonic()
    answers = asyncio.run(run())
    assert time.monotonic() - started < 2
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "BF-QRY-002"


def test_200_waiters_do_not_block_healthz_and_all_answer_once_caught_up(
    container: Container, lagging_instruments: int
) -> None:
    investor = bearer(container, Role.INVESTOR, "waiting-reader")

    async def run() -> tuple[httpx.Response, list[bool], list[httpx.Response]]:
        async with _client(container) as client:
            params = {"min_position": lagging_instruments}
            waiters = [
                asyncio.create_task(client.get("/v1/instruments", params=params, headers=investor))
                for _ in range(200)
            ]
            await asyncio.sleep(1.0)  # every waiter has had time to start waiting
            health = await asyncio.wait_for(client.get("/healthz"), timeout=2)
            pending = [not w.done() for w in waiters]
            await asyncio.to_thread(_catch_up, container)
            return health, pending, await asyncio.gather(*waiters)

    health, pending, answers = asyncio.run(run())
    assert health.status_code == 200
    assert all(pending), "the waiters answered before the read model caught up"
    assert [a.status_code for a in answers] == [200] * 200


def test_waiting_is_bounded_and_counted(container: Container, lagging_instruments: int) -> None:
    investor = bearer(container, Role.INVESTOR, "bounded-reader")
    container.waits.max_waiters = 3

    async def run() -> tuple[httpx.Response, list[httpx.Response], str]:
        async with _client(container) as client:
            params = {"min_position": lagging_instruments}
            waiters = [
                asyncio.create_task(client.get("/v1/instruments", params=params, headers=investor))
                for _ in range(3)
            ]
            while container.waits.waiting < 3:
                await asyncio.sleep(0.01)
            refused = await client.get("/v1/instruments", params=params, headers=investor)
            metrics = (await client.get("/metrics")).text
            await asyncio.to_thread(_catch_up, container)
            return refused, await asyncio.gather(*waiters), metrics

    refused, answers, metrics = asyncio.run(run())
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "BF-QRY-001"
    assert refused.headers["Retry-After"]
    assert [a.status_code for a in answers] == [200] * 3
    assert 'bondflow_query_waits_total{outcome="busy"} 1.0' in metrics
    assert "bondflow_query_waiting_requests 3.0" in metrics


def test_a_route_waits_for_every_read_model_it_reads(container: Container) -> None:
    """The coupon calendar reads holdings, instruments and the corporate-actions payments; the statement
    reads trades, instruments and corporate actions; the TDS report reads corporate actions. With only the corporate-actions view behind, both
    wait for it (and say so), where waiting for the first read model alone would answer without a payment
    already in the log: a flaky CI run of `test_coupons_reports_and_certificates` showed exactly that."""
    holder = f"lagging-ca-{uuid.uuid4().hex[:8]}"
    investor = bearer(container, Role.INVESTOR, holder)
    ops = bearer(container, Role.OPS)
    container.followers["corporate_actions_view"].stop()
    view = container.followers["corporate_actions_view"].follower

    async def run() -> list[httpx.Response]:
        async with _client(container) as client:
            filed = await client.post(
                "/v1/tax/declarations", json={"form": "15G", "financial_year": "2026-27"}, headers=investor
            )
            assert filed.status_code == 202, filed.text
            params = {"min_position": filed.json()["meta"]["position"]}
            assert view.position() < params["min_position"]
            statement = {**params, "from": "2026-04-01", "to": "2026-12-31"}
            return [
                await client.get("/v1/portfolio/coupons", params=params, headers=investor),
                await client.get("/v1/portfolio/statements", params=statement, headers=investor),
                await client.get("/v1/portfolio/holdings", params=params, headers=investor),
                await client.get("/v1/reports/tds", params=statement, headers=ops),
            ]

    container.settings = container.settings.model_copy(update={"query_wait_seconds": 0.5})
    coupons, statement, holdings, report = asyncio.run(run())
    for behind in (coupons, statement, report):
        assert behind.status_code == 503, behind.text
        error = behind.json()["error"]
        assert (error["code"], error["details"]["projection"]) == ("BF-QRY-001", "corporate_actions_view")
    assert holdings.status_code == 200, holdings.text  # holdings do not read corporate actions
