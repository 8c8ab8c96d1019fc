"""The RFQ venue port and its sandbox: three dealers quoting around the reference price, with finite
inventory, deterministic for a seed. Executing a quote is idempotent per quote id.

Fault switches (target `venue`): `fail_next`, `timeout_next` and `timeout_rate` make an RFQ raise
`VenueUnavailable`; `fail_rate` makes each dealer decline to quote with that probability."""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from bondflow.adapters.sandbox_faults import Faults, FaultSwitches

TICK = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Quote:
    quote_id: str
    dealer: str
    clean_price: Decimal
    max_qty: Decimal


@dataclass(frozen=True, slots=True)
class Fill:
    quote_id: str
    dealer: str
    qty: Decimal
    clean_price: Decimal


class VenueUnavailable(RuntimeError):
    """The venue did not answer; the execution worker retries the RFQ later."""


class Venue(Protocol):
    dealers: tuple[str, ...]

    def request_quotes(
        self,
        rfq_id: str,
        isin: str,
        side: str,
        qty: Decimal,
        reference_clean_price: Decimal,
        dealers: list[str],
    ) -> list[Quote]: ...

    def execute(self, quote: Quote, qty: Decimal) -> Fill: ...


@dataclass(frozen=True, slots=True)
class DealerProfile:
    name: str
    spread_bp: int  # half-spread around the reference, in basis points of price
    jitter_bp: int
    inventory: Decimal  # units per ISIN the dealer will trade in total


SANDBOX_DEALERS = (
    DealerProfile("dealer-alpha", 10, 15, Decimal("500")),
    DealerProfile("dealer-beta", 20, 25, Decimal("2000")),
    DealerProfile("dealer-gamma", 35, 40, Decimal("5000")),
)


class SandboxVenue:
    """Dealers answer every RFQ; a quote is good for at most the dealer's remaining inventory."""

    def __init__(
        self,
        seed: int = 7,
        profiles: tuple[DealerProfile, ...] = SANDBOX_DEALERS,
        *,
        faults: FaultSwitches | None = None,
    ) -> None:
        self.seed = seed
        self.profiles = {p.name: p for p in profiles}
        self.dealers = tuple(self.profiles)
        self._used: dict[tuple[str, str], Decimal] = {}
        self._executed: dict[str, Fill] = {}
        self._quotes: dict[str, str] = {}  # quote id → isin
        self._lock = threading.Lock()
        self.faults: FaultSwitches = faults or Faults("venue")
        self._calls = itertools.count()

    def _rng(self, *parts: str) -> random.Random:
        digest = hashlib.sha256("\x1f".join((str(self.seed), *parts)).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - a sandbox, not cryptography

    def request_quotes(
        self,
        rfq_id: str,
        isin: str,
        side: str,
        qty: Decimal,
        reference_clean_price: Decimal,
        dealers: list[str],
    ) -> list[Quote]:
        on = self.faults.current()  # every switch of the target in one read
        if (
            on.take("fail_next")
            or on.take("timeout_next")
            or on.hits("timeout_rate", f"{rfq_id}#{next(self._calls)}")
        ):
            raise VenueUnavailable("sandbox venue: injected failure")
        declined = {name for name in dealers if on.hits("fail_rate", f"{rfq_id}:{name}")}
        with self._lock:
            quotes = []
            for name in dealers:
                if name in declined:
                    continue
                profile = self.profiles[name]
                jitter = self._rng(rfq_id, name).randint(-profile.jitter_bp, profile.jitter_bp)
                # the dealer sells to a BUY above the reference and buys from a SELL below it
                bp = profile.spread_bp + jitter if side == "BUY" else -(profile.spread_bp + jitter)
                price = (reference_clean_price * (1 + Decimal(bp) / Decimal(10000))).quantize(TICK)
                available = profile.inventory - self._used.get((name, isin), Decimal(0))
                if available > 0:
                    quote_id = f"{rfq_id}:{name}"
                    self._quotes[quote_id] = isin
                    quotes.append(Quote(quote_id, name, price, available))
            return quotes

    def execute(self, quote: Quote, qty: Decimal) -> Fill:
        with self._lock:
            done = self._executed.get(quote.quote_id)
            if done is not None:
                return done  # the same quote executed again (a retry after a crash) is the same fill
            isin = self._quotes.get(quote.quote_id, "")
            key = (quote.dealer, isin)
            available = self.profiles[quote.dealer].inventory - self._used.get(key, Decimal(0))
            filled = min(qty, available)
            self._used[key] = self._used.get(key, Decimal(0)) + filled
            fill = Fill(quote.quote_id, quote.dealer, filled, quote.clean_price)
            self._executed[quote.quote_id] = fill
            return fill
