"""Pure helpers for the bench: arrival schedules, percentiles, summaries and ratios."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def schedule(rate: float, count: int, start: float = 0.0) -> list[float]:
    """Open-loop send times: request `i` is due at `start + i / rate`, whatever happened before it."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    if count < 0:
        raise ValueError("count must not be negative")
    return [start + i / rate for i in range(count)]


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0..100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(numerator: float, denominator: float) -> float:
    """`numerator / denominator`, or NaN when either side is missing or the denominator is not positive."""
    if math.isnan(numerator) or math.isnan(denominator) or denominator <= 0:
        return math.nan
    return numerator / denominator


@dataclass(frozen=True, slots=True)
class Summary:
    """One measured phase: counts, achieved throughput, latency and the generator's own lateness (ms)."""

    requests: int
    ok: int
    errors: int
    seconds: float
    throughput: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    generator_cpu: float  # the generator's CPU time over the phase's wall time (1.0 = one core)


def summarize(
    latencies: Sequence[float],
    lags: Sequence[float],
    *,
    errors: int,
    seconds: float,
    generator_cpu: float = math.nan,
) -> Summary:
    """Summarise latencies and lags (seconds) of the `ok` requests completed in `seconds` of wall time."""
    ms = [v * 1000 for v in latencies]
    lag_ms = [v * 1000 for v in lags]
    return Summary(
        requests=len(ms) + errors,
        ok=len(ms),
        errors=errors,
        seconds=seconds,
        throughput=ratio(len(ms), seconds),
        p50_ms=percentile(ms, 50),
        p99_ms=percentile(ms, 99),
        max_ms=max(ms, default=math.nan),
        lag_p50_ms=percentile(lag_ms, 50),
        lag_p99_ms=percentile(lag_ms, 99),
        lag_max_ms=max(lag_ms, default=math.nan),
        generator_cpu=generator_cpu,
    )
