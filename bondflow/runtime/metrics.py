"""Prometheus metrics: request latency per route and status, and how far each follower lags the log."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _LagCollector(Collector):
    def __init__(self, read_lags: Callable[[], dict[str, int]]) -> None:
        self.read_lags = read_lags

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "bondflow_follower_lag_events",
            "Events of its topics in the log not yet processed by each follower",
            labels=["follower"],
        )
        try:
            lags = self.read_lags()
        except Exception:  # a scrape must not fail because a dependency is down; readyz reports that
            lags = {}
        for name, lag in sorted(lags.items()):
            family.add_metric([name], lag)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_latency = Histogram(
            "bondflow_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.query_waiting = Gauge(
            "bondflow_query_waiting_requests",
            "Queries parked until their read model reaches min_position",
            registry=self.registry,
        )
        self.query_waits = Counter(
            "bondflow_query_waits",
            "Queries that asked for min_position, by outcome (reached, timeout, busy, beyond_log)",
            ["outcome"],
            registry=self.registry,
        )

    def watch_lag(self, read_lags: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_LagCollector(read_lags))

    def render(self) -> bytes:
        return generate_latest(self.registry)
