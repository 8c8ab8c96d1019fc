"""`min_position` (API.md Conventions): beyond the log is `400 BF-QRY-002` at once; waiting for a lagging
read model holds no worker thread (200 waiters leave /healthz answering) and is bounded (`503` + Retry-After)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from bondflow.api.app import create_app
from bondflow.runtime.followers import FollowerRunner
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer, fund

FAR = 4611686018427387903


def _client(container: Container) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(container))
    return httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30)


@pytest.fixture
def lagging_trades(container: Container) -> Iterator[int]:
    """Stop the trades read model, append an event, yield the head it has not reached; restart it after."""
    container.followers["trades_view"].stop()
    fund(container, "someone-else", Decimal(1000))
    head = container.store.head_position()
    assert container.followers["trades_view"].follower.position() < head
    yield head
    container.followers["trades_view"].stop()


def _catch_up(container: Container) -> None:
    runner = FollowerRunner(container.followers["trades_view"].follower, container.store, container.db)
    container.followers["trades_view"] = runner
    runner.start()


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
    container: Container, lagging_trades: int
) -> None:
    investor = bearer(container, Role.INVESTOR, "waiting-reader")

    async def run() -> tuple[httpx.Response, list[bool], list[httpx.Response]]:
        async with _client(container) as client:
            params = {"min_position": lagging_trades}
            waiters = [
                asyncio.create_task(client.get("/v1/trades", params=params, headers=investor))
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


def test_waiting_is_bounded_and_counted(container: Container, lagging_trades: int) -> None:
    investor = bearer(container, Role.INVESTOR, "bounded-reader")
    container.waits.max_waiters = 3

    async def run() -> tuple[httpx.Response, list[httpx.Response], str]:
        async with _client(container) as client:
            params = {"min_position": lagging_trades}
            waiters = [
                asyncio.create_task(client.get("/v1/trades", params=params, headers=investor))
                for _ in range(3)
            ]
            while container.waits.waiting < 3:
                await asyncio.sleep(0.01)
            refused = await client.get("/v1/trades", params=params, headers=investor)
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
