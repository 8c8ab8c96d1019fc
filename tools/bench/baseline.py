"""The baseline: raw single-row INSERT + COMMIT with psycopg, one connection per worker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from decimal import Decimal
from typing import Any

import psycopg

from tools.bench.loadgen import Operation, Phase, closed_loop, open_loop

TABLE = "bench_baseline_insert"
INSERT = f"INSERT INTO {TABLE} (id, isin, amount) VALUES (%s, %s, %s)"


def create_table(url: str) -> None:
    """A simple table with a uuid, a text and a numeric column."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} "
            "(id uuid PRIMARY KEY, isin text NOT NULL, amount numeric(20, 4) NOT NULL)"
        )


class InsertPool:
    """`size` async connections; an operation borrows one, inserts a row and commits."""

    def __init__(self, url: str, size: int) -> None:
        self.url = url
        self.size = size
        self.idle: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
        self.all: list[psycopg.AsyncConnection[Any]] = []

    async def __aenter__(self) -> InsertPool:
        for _ in range(self.size):
            conn = await psycopg.AsyncConnection.connect(self.url, autocommit=False)
            self.all.append(conn)
            self.idle.put_nowait(conn)
        return self

    async def __aexit__(self, *_: object) -> None:
        for conn in self.all:
            await conn.close()

    async def insert(self) -> str:
        conn = await self.idle.get()
        try:
            await conn.execute(INSERT, (uuid.uuid4(), "INE123A07043", Decimal("1012.5000")))
            await conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.rollback()
            raise
        finally:
            self.idle.put_nowait(conn)
        return "committed"


async def _open(url: str, rate: float, seconds: float, warmup: float, connections: int) -> Phase:
    async with InsertPool(url, connections) as pool:
        op: Operation = pool.insert
        return await open_loop(op, rate=rate, seconds=seconds, warmup=warmup)


async def _closed(url: str, clients: int, seconds: float, warmup: float) -> Phase:
    async with InsertPool(url, clients) as pool:
        return await closed_loop(pool.insert, clients=clients, seconds=seconds, warmup=warmup)


def run_open(url: str, *, rate: float, seconds: float, warmup: float, connections: int = 8) -> Phase:
    """INSERT + COMMIT at a fixed arrival rate."""
    return asyncio.run(_open(url, rate, seconds, warmup, connections))


def run_closed(url: str, *, clients: int, seconds: float, warmup: float) -> Phase:
    """INSERT + COMMIT as fast as `clients` connections can go."""
    return asyncio.run(_closed(url, clients, seconds, warmup))
