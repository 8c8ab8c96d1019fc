"""The execution advisor port and its built-in policy: rank dealers by their record (fill ratio, price
improvement) in the analytics store, and propose the price band."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

log = logging.getLogger(__name__)

PRIOR_FILL_RATIO = Decimal("0.5")  # a dealer with no history is neither favoured nor shunned
IMPROVEMENT_WEIGHT = Decimal("0.01")  # one basis point of average improvement is worth 1% of fill ratio


@dataclass(frozen=True, slots=True)
class DealerRecord:
    dealer: str
    rfqs: int
    fills: int
    avg_improvement_bp: Decimal

    @property
    def fill_ratio(self) -> Decimal:
        return PRIOR_FILL_RATIO if self.rfqs == 0 else Decimal(self.fills) / Decimal(self.rfqs)


@dataclass(frozen=True, slots=True)
class Advice:
    dealers: list[str]
    band_low: Decimal
    band_high: Decimal


class ExecutionAdvisor(Protocol):
    def advise(
        self,
        isin: str,
        side: str,
        dealers: tuple[str, ...],
        reference_clean_price: Decimal,
        band_pct: Decimal,
    ) -> Advice: ...


class RecordBasedAdvisor:
    """Ranks by fill ratio plus a weighted average price improvement; ties keep the venue's order."""

    def __init__(self, records: Callable[[str], dict[str, DealerRecord]]) -> None:
        self.records = records

    def advise(
        self,
        isin: str,
        side: str,
        dealers: tuple[str, ...],
        reference_clean_price: Decimal,
        band_pct: Decimal,
    ) -> Advice:
        try:
            history = self.records(isin)
        except Exception:  # the advisor is advice: without analytics, fall back to the venue's order
            history = {}

        def score(dealer: str) -> Decimal:
            record = history.get(dealer)
            if record is None:
                return PRIOR_FILL_RATIO
            return record.fill_ratio + IMPROVEMENT_WEIGHT * record.avg_improvement_bp

        ranked = sorted(dealers, key=lambda d: (-score(d), dealers.index(d)))
        width = reference_clean_price * band_pct / Decimal(100)
        return Advice(ranked, reference_clean_price - width, reference_clean_price + width)


class CachedRecords:
    """Dealer records per ISIN, fetched at most once per `period` seconds (not one analytics query per
    order); while one thread refreshes an ISIN, others keep using what it had.

    A fetch that fails (the analytics store is down, or, in a process that cannot open the embedded one, never
    reachable) counts as a fetch of no records for the period: the advisor ranks by the venue's order, and the
    next order does not pay for another failed attempt (opening chDB and failing costs tens of ms)."""

    def __init__(
        self,
        fetch: Callable[[str], dict[str, DealerRecord]],
        period: float,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.period = period
        self.now = now
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[float, dict[str, DealerRecord]]] = {}
        self._refreshing: set[str] = set()
        self.fetches = 0
        self.failures = 0

    def __call__(self, isin: str) -> dict[str, DealerRecord]:
        with self._lock:
            cached = self._cached.get(isin)
            fresh = cached is not None and self.now() - cached[0] < self.period
            if fresh or (cached is not None and isin in self._refreshing):
                return cached[1] if cached else {}
            self._refreshing.add(isin)
        try:
            try:
                records = self.fetch(isin)
            except Exception:
                self.failures += 1
                if self.failures == 1 or self.failures % 100 == 0:
                    log.warning(
                        "dealer records unavailable (%d times); ranking by the venue's order",
                        self.failures,
                        exc_info=self.failures == 1,
                    )
                records = {}
            else:
                self.fetches += 1
            with self._lock:
                self._cached[isin] = (self.now(), records)
            return records
        finally:
            with self._lock:
                self._refreshing.discard(isin)
