"""The bench's pure helpers: open-loop schedules, percentiles, ratios and phase summaries."""

from __future__ import annotations

import itertools
import math

import pytest

from tools.bench.stats import percentile, ratio, schedule, summarize


def test_a_schedule_spaces_requests_by_one_over_the_rate_from_the_start() -> None:
    assert schedule(4, 5, start=10.0) == [10.0, 10.25, 10.5, 10.75, 11.0]


def test_a_schedule_does_not_depend_on_completions_so_a_long_run_keeps_its_rate() -> None:
    times = schedule(100, 1000)
    assert len(times) == 1000
    assert times[-1] == pytest.approx(9.99)
    assert all(b - a == pytest.approx(0.01) for a, b in itertools.pairwise(times))


@pytest.mark.parametrize(("rate", "count"), [(0, 1), (-1, 1), (1, -1)])
def test_a_schedule_refuses_a_rate_that_is_not_positive_or_a_negative_count(rate: float, count: int) -> None:
    with pytest.raises(ValueError):
        schedule(rate, count)


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [float(v) for v in range(100, 0, -1)]  # unsorted on purpose
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0


def test_a_single_value_is_every_percentile_and_no_value_is_nan() -> None:
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_p99_sees_the_one_slow_request_in_a_hundred() -> None:
    values = [1.0] * 99 + [1000.0]
    assert percentile(values, 50) == 1.0
    assert percentile(values, 99) == pytest.approx(1.0 + 0.01 * 999)


def test_a_ratio_is_nan_when_the_baseline_is_missing_or_zero() -> None:
    assert ratio(30.0, 3.0) == pytest.approx(10.0)
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(math.nan, 2.0))
    assert math.isnan(ratio(2.0, math.nan))


def test_a_summary_reports_milliseconds_throughput_and_counts_errors_as_sent() -> None:
    summary = summarize([0.001, 0.002, 0.003, 0.004], [0.0, 0.0005], errors=1, seconds=2.0)
    assert summary.requests == 5
    assert summary.ok == 4
    assert summary.throughput == pytest.approx(2.0)
    assert summary.p50_ms == pytest.approx(2.5)
    assert summary.max_ms == pytest.approx(4.0)
    assert summary.lag_max_ms == pytest.approx(0.5)
    assert math.isnan(summary.generator_cpu)


def test_a_summary_of_nothing_has_no_figures_rather_than_zeros() -> None:
    summary = summarize([], [], errors=3, seconds=1.0)
    assert summary.ok == 0
    assert summary.throughput == 0.0
    assert math.isnan(summary.p99_ms)
    assert math.isnan(summary.lag_p99_ms)
