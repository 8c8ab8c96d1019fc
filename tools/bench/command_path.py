"""The command path under load: `POST /v1/orders` over loopback HTTP, a fresh Idempotency-Key each."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

import httpx

from tools.bench.loadgen import Phase, closed_loop, open_loop
from tools.bench.setup import ORDER


class OrderSender:
    """Posts one order per call, rotating through a pool of investor tokens; returns the HTTP status."""

    def __init__(self, http: httpx.AsyncClient, tokens: list[str]) -> None:
        self.http = http
        self.headers = itertools.cycle([{"Authorization": f"Bearer {t}"} for t in tokens])

    async def place(self) -> str:
        headers = {**next(self.headers), "Idempotency-Key": uuid.uuid4().hex}
        answer = await self.http.post("/v1/orders", json=ORDER, headers=headers)
        if answer.status_code >= 500:
            raise RuntimeError(f"{answer.status_code}: {answer.text[:200]}")
        if answer.status_code < 300:
            return str(answer.status_code)
        return f"{answer.status_code} {_error_code(answer)}"


def _error_code(answer: httpx.Response) -> str:
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "?"


def _client(base: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=10.0)


async def _open(base: str, tokens: list[str], rate: float, seconds: float, warmup: float) -> Phase:
    async with _client(base, 64) as http:
        return await open_loop(OrderSender(http, tokens).place, rate=rate, seconds=seconds, warmup=warmup)


async def _closed(base: str, tokens: list[str], clients: int, seconds: float, warmup: float) -> Phase:
    async with _client(base, clients) as http:
        sender = OrderSender(http, tokens)
        return await closed_loop(sender.place, clients=clients, seconds=seconds, warmup=warmup)


def run_open(base: str, tokens: list[str], *, rate: float, seconds: float, warmup: float) -> Phase:
    """Orders at a fixed arrival rate (open loop)."""
    return asyncio.run(_open(base, tokens, rate, seconds, warmup))


def run_closed(base: str, tokens: list[str], *, clients: int, seconds: float, warmup: float) -> Phase:
    """Orders as fast as `clients` concurrent clients get answers (closed loop)."""
    return asyncio.run(_closed(base, tokens, clients, seconds, warmup))


def follower_lags(base: str) -> dict[str, int] | None:
    """Events each follower still has to process, from /metrics (None if not exposed)."""
    try:
        text = httpx.get(f"{base}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    lags: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("bondflow_follower_lag_events{"):
            labels, _, value = line.rpartition(" ")
            name = labels.partition('follower="')[2].partition('"')[0]
            lags[name] = round(float(value))
    return lags or None


def follower_lag(base: str) -> int | None:
    """Events the followers still have to process, summed from /metrics (None if not exposed)."""
    lags = follower_lags(base)
    return None if lags is None else sum(lags.values())


def wait_for_followers(base: str, within: float) -> float:
    """Wait (bounded) until every follower has caught up with the log; return the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        lag = follower_lag(base)
        if lag is None or lag == 0:
            break
        time.sleep(0.2)
    return time.monotonic() - started
