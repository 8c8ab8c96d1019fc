"""Open-loop (fixed arrival rate) and closed-loop (N clients) load generators over one asyncio loop."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tools.bench.stats import Summary, schedule, summarize

Operation = Callable[[], Awaitable[str]]  # one request; returns an outcome label, raises on failure


@dataclass(slots=True)
class _Recorder:
    """What the measured (post-warm-up) requests of one phase produced."""

    latencies: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    first_error: str = ""
    last_done: float = 0.0

    def failed(self, exc: BaseException) -> None:
        self.errors += 1
        self.outcomes["error"] += 1
        self.first_error = self.first_error or f"{type(exc).__name__}: {exc}"[:300]


@dataclass(frozen=True, slots=True)
class Phase:
    """A phase's summary, its outcome counts (e.g. HTTP status codes) and the first error seen."""

    summary: Summary
    outcomes: dict[str, int]
    first_error: str


async def _call(op: Operation, timeout: float) -> str:
    return await asyncio.wait_for(op(), timeout)


FINE_SLEEP = 0.002  # asyncio timers round up to the millisecond: sleep the last stretch precisely


async def _until(due: float) -> None:
    """Wait until `due` (perf_counter): on the loop while far, then a short precise sleep (< 2 ms)."""
    coarse = due - time.perf_counter() - FINE_SLEEP
    if coarse > 0:
        await asyncio.sleep(coarse)
    fine = due - time.perf_counter()
    if fine > 0:
        time.sleep(fine)  # blocks the loop for under FINE_SLEEP; keeps the generator's lag well under 1 ms


async def open_loop(
    op: Operation, *, rate: float, seconds: float, warmup: float, timeout: float = 10.0
) -> Phase:
    """Send request `i` at `t0 + i / rate` regardless of completions; latency counts from that due time."""
    n_warm, n_measured = round(warmup * rate), max(1, round(seconds * rate))
    measured = _Recorder()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    due_times = schedule(rate, n_warm + n_measured, wall0 + 0.01)

    async def one(index: int, due: float) -> None:
        lag = time.perf_counter() - due
        try:
            label = await _call(op, timeout)
        except Exception as exc:
            if index >= n_warm:
                measured.failed(exc)
            return
        done = time.perf_counter()
        if index >= n_warm:
            measured.latencies.append(done - due)
            measured.lags.append(lag)
            measured.outcomes[label] += 1
            measured.last_done = max(measured.last_done, done)

    tasks: list[asyncio.Task[None]] = []
    for index, due in enumerate(due_times):
        await _until(due)
        tasks.append(asyncio.create_task(one(index, due)))
    await asyncio.gather(*tasks)
    window_start = due_times[n_warm]
    window = max(measured.last_done, due_times[-1] + 1 / rate) - window_start
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    return _phase(measured, window, cpu)


async def closed_loop(
    op: Operation, *, clients: int, seconds: float, warmup: float, timeout: float = 10.0
) -> Phase:
    """`clients` loops, each sending its next request as soon as the previous one answers."""
    measured = _Recorder()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    measure_from = wall0 + warmup
    end = measure_from + seconds

    async def client() -> None:
        while (started := time.perf_counter()) < end:
            try:
                label = await _call(op, timeout)
            except Exception as exc:
                if started >= measure_from:
                    measured.failed(exc)
                await asyncio.sleep(0.01)  # a failing target must not turn this into a busy loop
                continue
            done = time.perf_counter()
            if started >= measure_from:
                measured.latencies.append(done - started)
                measured.outcomes[label] += 1
                measured.last_done = max(measured.last_done, done)

    await asyncio.gather(*(client() for _ in range(clients)))
    window = max(measured.last_done, end) - measure_from
    cpu = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    return _phase(measured, window, cpu)


def _phase(measured: _Recorder, window: float, cpu: float) -> Phase:
    summary = summarize(
        measured.latencies,
        measured.lags,
        errors=measured.errors,
        seconds=window if window > 0 else math.nan,
        generator_cpu=cpu,
    )
    return Phase(summary, dict(sorted(measured.outcomes.items())), measured.first_error)
