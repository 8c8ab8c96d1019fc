"""Issue 11's targets for a fixed-rate run of `filled_at_rate`, judged in code so that every run says the
same thing about itself: which targets it met, which it missed and by how much.

Realistic profile (chain finality 2 s, payouts 1 s, dealer quotes 0.15 s): `POST /v1/orders` ack p99 at most
50 ms; no 5xx and no request left unanswered; every accepted order FILLED; follower lag not growing during
the run and zero within 5 s after it; order → FILLED median at most 3.5 s and p99 at most 5 s. Zero profile
(every provider delay 0): the same, with the order → FILLED median at most 150 ms instead.

"Lag not growing" is read from the lag sampled once a second: the mean over the last third of the run is at
most 1.5 times the mean over its first half, plus 200 events (a few orders' worth of events in flight). A run
that falls behind for good grows far past that; one that keeps up stays flat.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

ACK_P99_MS = 50.0
DRAINED_WITHIN_S = 5.0
FILLED_P99_S = 5.0
FILLED_MEDIAN_S = {"realistic": 3.5, "zero": 0.150}
LAG_GROWTH = 1.5
LAG_ALLOWANCE = 200


@dataclass(frozen=True)
class RunFigures:
    """What one run measured."""

    profile: str
    rate: float
    acks_ms: list[float]
    to_filled_s: list[float]
    sent: int
    accepted: int
    filled: int
    server_errors: int
    unanswered: int
    lag_samples: list[int]
    drained_after_s: float


@dataclass(frozen=True)
class Check:
    name: str
    met: bool
    measured: str
    target: str


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def lag_grows(samples: list[int]) -> bool:
    """Whether the lag sampled during the run grew (see the module's docstring)."""
    if len(samples) < 6:
        return False  # too short a run to tell
    first = statistics.fmean(samples[: len(samples) // 2])
    last = statistics.fmean(samples[-(len(samples) // 3) :])
    return last > LAG_GROWTH * first + LAG_ALLOWANCE


def checks(run: RunFigures) -> list[Check]:
    ack_p99 = percentile(run.acks_ms, 0.99)
    median = statistics.median(run.to_filled_s) if run.to_filled_s else float("inf")
    p99 = percentile(run.to_filled_s, 0.99) if run.to_filled_s else float("inf")
    median_target = FILLED_MEDIAN_S[run.profile]
    samples = run.lag_samples
    return [
        Check("ack p99", ack_p99 <= ACK_P99_MS, f"{ack_p99:.0f} ms", f"≤ {ACK_P99_MS:.0f} ms"),
        Check(
            "answers",
            run.server_errors == 0 and run.unanswered == 0,
            f"{run.server_errors} 5xx, {run.unanswered} unanswered",
            "no 5xx, none unanswered",
        ),
        Check(
            "all FILLED",
            run.accepted == run.sent and run.filled == run.accepted,
            f"{run.filled} of {run.sent}",
            "every order",
        ),
        Check(
            "lag steady",
            not lag_grows(samples),
            f"{statistics.fmean(samples[: len(samples) // 2] or [0]):.0f} → "
            f"{statistics.fmean(samples[-(len(samples) // 3 or 1) :] or [0]):.0f} events",
            f"≤ {LAG_GROWTH:g}× + {LAG_ALLOWANCE}",
        ),
        Check(
            "lag drained",
            run.drained_after_s <= DRAINED_WITHIN_S,
            f"{run.drained_after_s:.1f} s",
            f"≤ {DRAINED_WITHIN_S:.0f} s",
        ),
        Check(
            "FILLED median",
            median <= median_target,
            f"{median * 1000:.0f} ms" if median < 1 else f"{median:.2f} s",
            f"≤ {median_target * 1000:.0f} ms" if median_target < 1 else f"≤ {median_target:g} s",
        ),
        Check("FILLED p99", p99 <= FILLED_P99_S, f"{p99:.2f} s", f"≤ {FILLED_P99_S:.0f} s"),
    ]


def verdict(run: RunFigures) -> str:
    """One line: every target met, or the ones missed with what was measured."""
    missed = [c for c in checks(run) if not c.met]
    if not missed:
        return f"{run.rate:g}/s {run.profile}: every target met"
    return f"{run.rate:g}/s {run.profile}: missed " + "; ".join(
        f"{c.name} {c.measured} (target {c.target})" for c in missed
    )


def meets_all(run: RunFigures) -> bool:
    return all(c.met for c in checks(run))
