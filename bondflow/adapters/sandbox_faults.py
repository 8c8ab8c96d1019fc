"""Fault switches for the sandbox adapters (the stand-ins for the outside world), kept in PostgreSQL so the
API process that sets them and every worker process that consults them see the same switches, and a
killed and restarted worker still sees them.

Modes, per target (`SUPPORTED` says which target honours which):

- `fail_next`: the next call is refused (payments, payouts, chain, venue: no dealer quotes; KYC: the
  provider is down for the next start);
- `timeout_next`: the next call times out before the provider does anything (a retry with the same
  idempotency key then goes through);
- `fail_rate`: each call is refused with this probability;
- `timeout_rate`: each call times out with this probability (retries, breakers, breaks);
- `duplicate_rate`: each webhook is delivered twice with this probability (payments, KYC);
- `stall_rate`: a chain transfer never becomes final with this probability (the token deadline fires);
- `hold_fail_next` / `hold_fail_rate`: the chain refuses to place the next hold / each hold with this
  probability (the settlement fails before anything moved).

Rate draws are a pure function of the seed, the target, the mode and the call's idempotency key (or a
call counter for the one-shot-free paths), so every process draws the same outcome for the same request,
and a seed reproduces a chaos run.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from bondflow.adapters.postgres import Database

ONE_SHOT = ("fail_next", "timeout_next", "hold_fail_next")
RATES = ("fail_rate", "timeout_rate", "duplicate_rate", "stall_rate", "hold_fail_rate")
MODES = ONE_SHOT + RATES
SUPPORTED: dict[str, tuple[str, ...]] = {
    "payments": ("fail_next", "timeout_next", "fail_rate", "timeout_rate", "duplicate_rate"),
    "chain": (
        "fail_next",
        "timeout_next",
        "fail_rate",
        "timeout_rate",
        "stall_rate",
        "hold_fail_next",
        "hold_fail_rate",
    ),
    "kyc": ("fail_next", "timeout_next", "fail_rate", "timeout_rate", "duplicate_rate"),
    "venue": ("fail_next", "timeout_next", "fail_rate", "timeout_rate"),
}
TARGETS = tuple(SUPPORTED)
_ATTEMPTS = itertools.count()  # numbers each timeout draw, so retries of one request draw anew

DDL = """
CREATE TABLE IF NOT EXISTS sandbox_faults (
    target text NOT NULL,
    mode text NOT NULL,
    value numeric(6, 5) NOT NULL,
    PRIMARY KEY (target, mode)
);
"""


class FaultSwitches(Protocol):
    """Where a target's switches are kept: `current()` reads them all at once (one query per adapter call,
    not one per switch), `take` consumes a one-shot atomically.

    An adapter that already holds a pooled connection passes its cursor (`within`): asking the pool for a
    second connection while holding one deadlocks a small pool once every connection is held by a caller
    waiting for another (the chain's holds wait on a per-wallet lock while holding theirs)."""

    def current(self, within: Any = None) -> Switches: ...

    def take(self, mode: str, within: Any = None) -> bool: ...

    def set(self, mode: str, value: float | None = None) -> None: ...

    def clear(self) -> None: ...


@dataclass(frozen=True)
class Switches:
    """The switches that are on for a target, read once for one adapter call."""

    store: FaultSwitches
    target: str
    seed: int
    one_shots: frozenset[str]
    rates: dict[str, float]
    within: Any = None  # the caller's cursor, when it holds one: a one-shot is consumed in its transaction

    def take(self, mode: str) -> bool:
        """Consume a one-shot switch (the store is asked only when it was on)."""
        return mode in self.one_shots and self.store.take(mode, self.within)

    def hits(self, mode: str, key: str) -> bool:
        """Whether the request `key` falls within the mode's rate."""
        rate = self.rates.get(mode, 0.0)
        return rate > 0 and draw(self.seed, self.target, mode, key) < rate

    def times_out(self, key: str) -> bool:
        """`timeout_next`, or this attempt of request `key` within `timeout_rate` (each attempt draws anew,
        so a retry with the same idempotency key can get through)."""
        return self.take("timeout_next") or self.hits("timeout_rate", f"{key}#{next(_ATTEMPTS)}")


def draw(seed: int, target: str, mode: str, key: str) -> float:
    """A uniform number in [0, 1) that depends only on its arguments."""
    digest = hashlib.sha256(f"{seed}\x1f{target}\x1f{mode}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def checked(target: str, mode: str, value: object = None) -> float | None:
    """The switch's value if `mode` is one `target` supports (a rate needs 0 ≤ value ≤ 1); else ValueError."""
    if mode not in SUPPORTED.get(target, ()):
        raise ValueError(f"{target} has no fault {mode!r}; it has {', '.join(SUPPORTED.get(target, ()))}")
    if mode in ONE_SHOT:
        if value is not None:  # was silently ignored: `{"mode": "fail_next", "value": "AAA"}` answered 202
            raise ValueError(f"{mode} takes no value")
        return None
    try:
        rate = Decimal(str(value)) if isinstance(value, int | float | str | Decimal) else None
    except InvalidOperation:
        rate = None
    if isinstance(value, bool) or rate is None or not rate.is_finite() or not 0 <= rate <= 1:
        raise ValueError(f"{mode} needs a value between 0 and 1")
    return float(rate)


class Faults:
    """Switches in memory, for one process (unit tests and adapters built without a database)."""

    def __init__(self, target: str = "payments", *, seed: int = 0, **initial: float) -> None:
        self.target = target
        self.seed = seed
        self._one_shots: set[str] = set()
        self._rates: dict[str, float] = {}
        self._lock = threading.Lock()
        for mode, value in initial.items():
            self.set(mode, value)

    def take(self, mode: str, within: Any = None) -> bool:
        with self._lock:
            on = mode in self._one_shots
            self._one_shots.discard(mode)
            return on

    def current(self, within: Any = None) -> Switches:
        with self._lock:
            return Switches(self, self.target, self.seed, frozenset(self._one_shots), dict(self._rates))

    def rate(self, mode: str) -> float:
        return self._rates.get(mode, 0.0)

    def set(self, mode: str, value: float | None = None) -> None:
        checked_value = checked(self.target, mode, value)
        with self._lock:
            if checked_value is None:
                self._one_shots.add(mode)
            else:
                self._rates[mode] = checked_value

    def clear(self) -> None:
        with self._lock:
            self._one_shots.clear()
            self._rates.clear()


class SharedFaults:
    """Switches in PostgreSQL (`sandbox_faults`): one row per switch that is on."""

    def __init__(self, db: Database, target: str, *, seed: int = 0) -> None:
        if target not in SUPPORTED:
            raise ValueError(f"unknown fault target {target!r}")
        self.db = db
        self.target = target
        self.seed = seed

    def setup(self) -> None:
        self.db.create_tables("sandbox_faults", DDL)

    def take(self, mode: str, within: Any = None) -> bool:
        if within is not None:
            return self._take(within, mode)
        with self.db.transaction() as cur:
            return self._take(cur, mode)

    def _take(self, cur: Any, mode: str) -> bool:
        row = cur.execute(
            "DELETE FROM sandbox_faults WHERE target = %s AND mode = %s RETURNING 1", (self.target, mode)
        ).fetchone()
        return row is not None

    def rate(self, mode: str) -> float:
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT value FROM sandbox_faults WHERE target = %s AND mode = %s", (self.target, mode)
            ).fetchone()
        return 0.0 if row is None else float(row[0])

    def current(self, within: Any = None) -> Switches:
        on = self.switches(within)
        rates = {mode: value for mode, value in on.items() if value is not None}
        one_shots = frozenset(mode for mode, value in on.items() if value is None)
        return Switches(self, self.target, self.seed, one_shots, rates, within)

    def set(self, mode: str, value: float | None = None) -> None:
        checked_value = checked(self.target, mode, value)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO sandbox_faults (target, mode, value) VALUES (%s, %s, %s)"
                " ON CONFLICT (target, mode) DO UPDATE SET value = EXCLUDED.value",
                (self.target, mode, Decimal(str(checked_value if checked_value is not None else 1))),
            )

    def clear(self) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM sandbox_faults WHERE target = %s", (self.target,))

    def switches(self, within: Any = None) -> dict[str, float | None]:
        """What is on: one-shots map to None, rates to their value."""
        query = "SELECT mode, value FROM sandbox_faults WHERE target = %s ORDER BY mode"
        if within is not None:
            rows = within.execute(query, (self.target,)).fetchall()
        else:
            with self.db.cursor() as cur:
                rows = cur.execute(query, (self.target,)).fetchall()
        return {str(m): (None if m in ONE_SHOT else float(v)) for m, v in rows}
