"""The advisor's dealer records are fetched once per period per ISIN; a failed fetch counts as no records for
the period (ranked by the venue's order), so a process without the analytics store does not try again on
every order."""

from __future__ import annotations

from decimal import Decimal

from bondflow.workers.advisor import CachedRecords, DealerRecord, RecordBasedAdvisor

RECORD = {"dealer-beta": DealerRecord("dealer-beta", rfqs=10, fills=9, avg_improvement_bp=Decimal("2"))}
DEALERS = ("dealer-alpha", "dealer-beta", "dealer-gamma")


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_records_are_fetched_once_per_period_and_per_isin() -> None:
    calls: list[str] = []
    clock = Clock()
    cached = CachedRecords(lambda isin: calls.append(isin) or RECORD, period=5, now=clock)
    assert cached("INE1") == RECORD and cached("INE1") == RECORD
    assert cached("INE2") == RECORD
    assert calls == ["INE1", "INE2"]
    clock.t = 5.5
    cached("INE1")
    assert calls == ["INE1", "INE2", "INE1"] and cached.fetches == 3


def test_a_failing_fetch_is_not_retried_within_the_period_and_ranks_by_the_venue() -> None:
    attempts: list[str] = []
    clock = Clock()
    up = {"store": False}

    def fetch(isin: str) -> dict[str, DealerRecord]:
        attempts.append(isin)
        if not up["store"]:
            raise RuntimeError("chDB is already open on another path in this process")
        return RECORD

    advisor = RecordBasedAdvisor(CachedRecords(fetch, period=5, now=clock))
    for _ in range(50):  # fifty orders within the period: one attempt
        advice = advisor.advise("INE1", "BUY", DEALERS, Decimal(100), Decimal(2))
        assert advice.dealers == list(DEALERS)
    assert attempts == ["INE1"]
    up["store"], clock.t = True, 6.0  # the store is back: the next period fetches, and the ranking follows
    assert advisor.advise("INE1", "BUY", DEALERS, Decimal(100), Decimal(2)).dealers[0] == "dealer-beta"
    assert attempts == ["INE1", "INE1"]
