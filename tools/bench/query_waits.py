"""`python -m tools.bench.query_waits`: do queries waiting for `min_position` stall the server?

Against a real `bondflow serve` started with `--no-workers` (no follower runs, so every read model lags the
log), fire at once N queries with a `min_position` far beyond the log (answered `400 BF-QRY-002` at once)
and W (default 400) with `min_position` = the head of the log, which park until the read model reaches it
(`BONDFLOW_QUERY_WAIT_SECONDS`, 20 s here, then `503`); they ask `/v1/users/me`, whose read model applies the
sign-up at the head (a view with none of its events before the target answers at once). Once `/metrics` shows all W parked, probe `/healthz`
and login one request at a time for a few seconds: p50/p99/max beside the same probes on the idle server
(the same run's baseline). API.md: waiting holds no worker thread, so the probes should not notice the W
(target p99 < 50 ms). Login costs one Argon2id verification, so its idle figure is the floor. The probes
during the arrival burst (W+N requests parsed, authenticated and parked) are printed too. Not a test: the
figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx

from tools.bench.database import fresh_database, postgres_server
from tools.bench.server import running_server
from tools.bench.setup import mint_tokens
from tools.bench.stats import percentile

FAR = 4611686018427387903
PASSWORD = "bench password long enough"  # noqa: S105 - a throwaway account in a throwaway database
LIFTED_LIMITS = {  # the login probe logs in every 100 ms from one address and one account
    "BONDFLOW_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE": "10000",
    "BONDFLOW_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE": "1000",
    "BONDFLOW_QUERY_WAIT_SECONDS": "20",  # the waiters stay parked while the probes run
}
TARGET_P99_MS = 50.0


async def _probe(
    http: httpx.AsyncClient, method: str, path: str, body: dict[str, str] | None, until: float, pause: float
) -> tuple[list[float], Counter[int]]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    while time.monotonic() < until:
        started = time.perf_counter()
        answer = await http.request(method, path, json=body)
        latencies.append((time.perf_counter() - started) * 1000)
        statuses[answer.status_code] += 1
        await asyncio.sleep(pause)
    return latencies, statuses


async def _probes(
    http: httpx.AsyncClient, email: str, seconds: float
) -> dict[str, tuple[list[float], Counter[int]]]:
    until = time.monotonic() + seconds
    login = {"email": email, "password": PASSWORD}
    health, logins = await asyncio.gather(
        _probe(http, "GET", "/healthz", None, until, 0.02),
        _probe(http, "POST", "/v1/auth/token", login, until, 0.1),
    )
    return {"healthz": health, "login": logins}


async def _load(http: httpx.AsyncClient, token: str, head: int, far: int, waiting: int) -> Counter[str]:
    auth = {"Authorization": f"Bearer {token}"}

    async def one(position: int) -> str:
        try:
            answer = await http.get("/v1/users/me", params={"min_position": position}, headers=auth)
        except httpx.TransportError as exc:  # counted, not hidden: the machine may refuse connections
            return f"transport error {type(exc).__name__}"
        error = answer.json().get("error") or {}
        return f"{answer.status_code} {error.get('code', '')}".strip()

    answers = await asyncio.gather(*(one(FAR) for _ in range(far)), *(one(head) for _ in range(waiting)))
    return Counter(answers)


async def _parked(http: httpx.AsyncClient, count: int, within: float) -> float:
    """Seconds until `/metrics` shows `count` queries parked on min_position (raises past `within`)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        text = (await http.get("/metrics")).text
        for line in text.splitlines():
            if line.startswith("bondflow_query_waiting_requests ") and float(line.split()[1]) >= count:
                return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{count} queries were not parked within {within} s")


def _line(name: str, latencies: list[float], statuses: Counter[int]) -> str:
    return (
        f"  {name:8} n={len(latencies):4}  p50={percentile(latencies, 50):7.1f} ms  "
        f"p99={percentile(latencies, 99):7.1f} ms  max={max(latencies):7.1f} ms  statuses={dict(statuses)}"
    )


def _print(title: str, probes: dict[str, tuple[list[float], Counter[int]]], *, verdict: bool = False) -> None:
    print(title)
    for name, (latencies, statuses) in probes.items():
        met = percentile(latencies, 99) < TARGET_P99_MS
        mark = (
            f"  p99 < {TARGET_P99_MS:.0f} ms: {'yes' if met else 'NO'}"
            if verdict and name == "healthz"
            else ""
        )
        print(_line(name, latencies, statuses) + mark)


async def run(
    base: str, investor: str, far: int, waiting: int, idle_seconds: float, probe_seconds: float
) -> None:
    limits = httpx.Limits(max_connections=far + waiting + 20, max_keepalive_connections=far + waiting + 20)
    async with (
        httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as load_http,
        httpx.AsyncClient(base_url=base, timeout=60) as probe_http,
    ):
        email = f"bench.{uuid.uuid4().hex[:8]}@example.in"
        signed = await probe_http.post("/v1/users", json={"email": email, "password": PASSWORD})
        head = signed.json()["meta"]["position"]
        _print("idle server (baseline):", await _probes(probe_http, email, idle_seconds))
        started = time.monotonic()
        load = asyncio.create_task(_load(load_http, investor, head, far, waiting))
        await asyncio.sleep(0.2)  # the burst is in flight
        burst = asyncio.create_task(_probes(probe_http, email, 1.5))
        parked_after = await _parked(probe_http, waiting, 15.0)
        _print(f"during the arrival burst ({far} far + {waiting} waiting sent at once):", await burst)
        _print(
            f"with {waiting} queries parked on min_position ({parked_after:.1f} s to park them all):",
            await _probes(probe_http, email, probe_seconds),
            verdict=True,
        )
        answers = await load
        print(f"  the {far + waiting} queries answered {dict(answers)} in {time.monotonic() - started:.1f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.query_waits", description=__doc__)
    parser.add_argument("--far", type=int, default=200, help="queries beyond the head of the log (200)")
    parser.add_argument("--waiting", type=int, default=400, help="queries parked on min_position (400)")
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    parser.add_argument("--probe-seconds", type=float, default=5.0, help="probing while all are parked (5)")
    args = parser.parse_args(argv)
    os.environ.update(LIFTED_LIMITS)
    workdir = Path(tempfile.mkdtemp(prefix="bf-bench-waits-"))
    with postgres_server(workdir) as admin_url, fresh_database(admin_url) as url:
        with running_server(url, workdir):  # once with its followers: they create the read models' tables
            pass
        with running_server(url, workdir, workers=False) as server:
            _admin, investors = mint_tokens(workdir / "var", 1)
            asyncio.run(
                run(server.base, investors[0], args.far, args.waiting, args.idle_seconds, args.probe_seconds)
            )


if __name__ == "__main__":
    main()
