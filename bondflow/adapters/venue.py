"""The RFQ venue port and its sandbox: three dealers quoting around the reference price, with finite
inventory, deterministic for a seed. Executing a quote is idempotent per quote id. The sandbox keeps its
fills in its own PostgreSQL table (it stands for the outside world), so a restarted execution worker, in
any process, executes a quote it already executed as the same fill and sees the dealers' inventory used.

Fault switches (target `venue`): `fail_next`, `timeout_next` and `timeout_rate` make an RFQ raise
`VenueUnavailable`; `fail_rate` makes each dealer decline to quote with that probability."""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import Faults, FaultSwitches

TICK = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class Quote:
    quote_id: str
    dealer: str
    clean_price: Decimal
    max_qty: Decimal
    isin: str


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


DDL = """
CREATE TABLE IF NOT EXISTS sandbox_venue_fills (
    quote_id text PRIMARY KEY,
    dealer text NOT NULL,
    isin text NOT NULL,
    qty numeric(20, 6) NOT NULL,
    clean_price numeric(20, 4) NOT NULL
);
"""


class SandboxVenue:
    """Dealers answer every RFQ; a quote is good for at most the dealer's remaining inventory."""

    def __init__(
        self,
        db: Database,
        seed: int = 7,
        profiles: tuple[DealerProfile, ...] = SANDBOX_DEALERS,
        *,
        faults: FaultSwitches | None = None,
        quote_delay: float = 0.0,
    ) -> None:
        self.db = db
        self.seed = seed
        self.quote_delay = quote_delay  # dealers answer an RFQ after this long (a realistic profile: 0.15 s)
        self.profiles = {p.name: p for p in profiles}
        self.dealers = tuple(self.profiles)
        self.faults: FaultSwitches = faults or Faults("venue")

    def setup(self) -> None:
        self.db.create_tables("sandbox_venue", DDL)

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
        if self.quote_delay > 0:
            time.sleep(self.quote_delay)  # the dealers' round trip (in an execution pool thread)
        on = self.faults.current()  # every switch of the target in one read
        if on.take("fail_next") or on.times_out(rfq_id):
            raise VenueUnavailable("sandbox venue: injected failure")
        declined = {name for name in dealers if on.hits("fail_rate", f"{rfq_id}:{name}")}
        with self.db.cursor() as cur:
            used = self._used(cur, isin)
        quotes = []
        for name in dealers:
            if name in declined:
                continue
            profile = self.profiles[name]
            jitter = self._rng(rfq_id, name).randint(-profile.jitter_bp, profile.jitter_bp)
            # the dealer sells to a BUY above the reference and buys from a SELL below it
            bp = profile.spread_bp + jitter if side == "BUY" else -(profile.spread_bp + jitter)
            price = (reference_clean_price * (1 + Decimal(bp) / Decimal(10000))).quantize(TICK)
            available = profile.inventory - used.get(name, Decimal(0))
            if available > 0:
                quotes.append(Quote(f"{rfq_id}:{name}", name, price, available, isin))
        return quotes

    def execute(self, quote: Quote, qty: Decimal) -> Fill:
        with self.db.transaction() as cur:
            # one dealer's book at a time, whichever process executes
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 11))", (quote.dealer,))
            done = cur.execute(
                "SELECT dealer, qty, clean_price FROM sandbox_venue_fills WHERE quote_id = %s",
                (quote.quote_id,),
            ).fetchone()
            if done is not None:  # the same quote executed again (a retry after a crash) is the same fill
                return Fill(quote.quote_id, str(done[0]), Decimal(done[1]), Decimal(done[2]))
            available = self.profiles[quote.dealer].inventory - self._used(cur, quote.isin).get(
                quote.dealer, Decimal(0)
            )
            filled = max(Decimal(0), min(qty, available))
            cur.execute(
                "INSERT INTO sandbox_venue_fills (quote_id, dealer, isin, qty, clean_price)"
                " VALUES (%s, %s, %s, %s, %s)",
                (quote.quote_id, quote.dealer, quote.isin, filled, quote.clean_price),
            )
            return Fill(quote.quote_id, quote.dealer, filled, quote.clean_price)

    @staticmethod
    def _used(cur: Any, isin: str) -> dict[str, Decimal]:
        rows = cur.execute(
            "SELECT dealer, sum(qty) FROM sandbox_venue_fills WHERE isin = %s GROUP BY dealer", (isin,)
        ).fetchall()
        return {str(dealer): Decimal(total) for dealer, total in rows}
