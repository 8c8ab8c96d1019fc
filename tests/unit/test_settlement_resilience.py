"""Calling an adapter: transient errors are retried with growing, jittered waits within a budget, and a
circuit breaker per adapter fails fast after repeated failures until it may try again."""

from __future__ import annotations

import pytest

from bondflow.runtime.resilience import CircuitBreaker, RetriesExhausted, Retrying


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise TimeoutError("provider did not answer")
        return "ok"


def test_a_transient_error_is_retried_with_exponential_backoff_and_jitter() -> None:
    waits: list[float] = []
    retrying = Retrying(
        CircuitBreaker("p"), (TimeoutError,), attempts=4, base=0.1, cap=10, seed=1, sleep=waits.append
    )
    assert retrying.call(Flaky(3)) == "ok"
    assert len(waits) == 3
    assert all(0 <= w <= 0.1 * 2**n for n, w in enumerate(waits, start=1))


def test_what_still_fails_after_the_budget_is_raised_as_exhausted() -> None:
    flaky = Flaky(10)
    retrying = Retrying(
        CircuitBreaker("p", threshold=100), (TimeoutError,), attempts=3, sleep=lambda _s: None
    )
    with pytest.raises(RetriesExhausted):
        retrying.call(flaky)
    assert flaky.calls == 3


def test_an_error_that_is_not_transient_is_not_retried() -> None:
    def refuse() -> str:
        raise ValueError("refused")

    with pytest.raises(ValueError):
        Retrying(CircuitBreaker("p"), (TimeoutError,), sleep=lambda _s: None).call(refuse)


def test_the_circuit_opens_after_repeated_failures_and_half_opens_after_the_reset_time() -> None:
    now = [0.0]
    breaker = CircuitBreaker("chain", threshold=2, reset_after=5, now=lambda: now[0])
    flaky = Flaky(100)
    retrying = Retrying(breaker, (TimeoutError,), attempts=4, sleep=lambda _s: None)
    with pytest.raises(RetriesExhausted):
        retrying.call(flaky)
    assert flaky.calls == 2 and breaker.state == "open"  # the last two attempts failed fast
    now[0] = 5.0
    assert breaker.state == "half_open"
    assert retrying.call(Flaky(0)) == "ok" and breaker.state == "closed"
