"""Holds on the sandbox chain (ERC-1996 style), in PostgreSQL beside the balances: a hold locks a holder's
tokens for a beneficiary until its expiry; held tokens can be neither transferred nor held again.
Executing a hold is a transfer that becomes final `finality_delay` later on the injected clock; an
expired hold is released when it is next looked at (or when the holder's free balance is computed).

Fault switches (target `chain`): `hold_fail_next` / `hold_fail_rate` refuse a hold; `fail_next` /
`fail_rate` reject an execution (the hold is released); `stall_rate` leaves an execution pending for good
(its deadline then releases it); `timeout_next` / `timeout_rate` raise `ChainUnavailable` before anything
is recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bondflow.adapters.chain_port import FAILED, FINAL, HELD, PENDING, RELEASED, ChainUnavailable, HoldStatus
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import FaultSwitches
from bondflow.runtime.clock import Clock

STALLED = timedelta(days=36_500)
LOCKING = (HELD, PENDING)  # the states in which a hold keeps its tokens from the holder

HOLDS_DDL = """
CREATE TABLE IF NOT EXISTS chain_holds (
    hold_id text PRIMARY KEY,
    isin text NOT NULL,
    holder text NOT NULL,
    beneficiary text NOT NULL,
    qty numeric(20, 6) NOT NULL,
    status text NOT NULL,
    reason text,
    tx_hash text,
    expires_at timestamptz NOT NULL,
    final_after timestamptz
);
CREATE INDEX IF NOT EXISTS chain_holds_holder ON chain_holds (holder, isin) WHERE status IN ('HELD', 'PENDING');
"""
_COLUMNS = "hold_id, status, reason, tx_hash, isin, holder, beneficiary, qty, expires_at, final_after"


class HoldsMixin:
    db: Database
    clock: Clock
    faults: FaultSwitches
    finality_delay: timedelta

    def hold(
        self, isin: str, holder: str, beneficiary: str, qty: Decimal, expires_at: datetime, hold_id: str
    ) -> HoldStatus:
        with self.db.transaction(commit_on=(ChainUnavailable,)) as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 11))", (f"{holder}|{isin}",))
            known = self._hold_row(cur, hold_id)
            if known is not None:
                return self._refresh(cur, known)
            on = self.faults.current(cur)
            if on.times_out(hold_id):
                raise ChainUnavailable("sandbox chain: injected timeout")
            now = self.clock.now()
            if holder.startswith("dealer:"):
                self._mint_once(cur, holder, isin, now)
            reason = None
            if on.take("hold_fail_next") or on.hits("hold_fail_rate", hold_id):
                reason = "hold refused by the chain (injected)"
            elif self.free_balance_in(cur, holder, isin) < qty:
                reason = "insufficient free token balance"
            status = FAILED if reason else HELD
            cur.execute(
                "INSERT INTO chain_holds (hold_id, isin, holder, beneficiary, qty, status, reason, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (hold_id, isin, holder, beneficiary, qty, status, reason, expires_at),
            )
            return HoldStatus(hold_id, status, None, reason)

    def execute_hold(self, hold_id: str) -> HoldStatus:
        with self.db.transaction(commit_on=(ChainUnavailable,)) as cur:
            row = self._hold_row(cur, hold_id)
            if row is None:
                return HoldStatus(hold_id, FAILED, None, "no such hold")
            current = self._refresh(cur, row)
            if current.status != HELD:
                return current
            on = self.faults.current(cur)
            if on.times_out(hold_id):
                raise ChainUnavailable("sandbox chain: injected timeout")
            if on.take("fail_next") or on.hits("fail_rate", hold_id):
                return self._set(cur, hold_id, RELEASED, "execution rejected by the chain (injected)")
            delay = STALLED if on.hits("stall_rate", hold_id) else self.finality_delay
            tx_hash = self._tx_hash(hold_id)
            cur.execute(
                "UPDATE chain_holds SET status = %s, tx_hash = %s, final_after = %s WHERE hold_id = %s",
                (PENDING, tx_hash, self.clock.now() + delay, hold_id),
            )
            return HoldStatus(hold_id, PENDING, tx_hash, None)

    def release_hold(self, hold_id: str) -> HoldStatus:
        with self.db.transaction() as cur:
            row = self._hold_row(cur, hold_id)
            if row is None:  # never placed: a tombstone makes sure a late placement cannot happen
                cur.execute(
                    "INSERT INTO chain_holds (hold_id, isin, holder, beneficiary, qty, status, reason, expires_at)"
                    " VALUES (%s, '', '', '', 0, %s, 'released before it was placed', %s)",
                    (hold_id, RELEASED, self.clock.now()),
                )
                return HoldStatus(hold_id, RELEASED, None, "released before it was placed")
            current = self._refresh(cur, row)
            if current.status in LOCKING:
                return self._set(cur, hold_id, RELEASED, "released")
            return current

    def hold_status(self, hold_id: str) -> HoldStatus | None:
        with self.db.transaction() as cur:
            row = self._hold_row(cur, hold_id)
            return None if row is None else self._refresh(cur, row)

    def held(self, wallet: str, isin: str) -> Decimal:
        """Tokens of `wallet` locked by holds (expired ones included until they are next looked at)."""
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT coalesce(sum(qty), 0) FROM chain_holds WHERE holder = %s AND isin = %s"
                " AND status = ANY(%s)",
                (wallet, isin, list(LOCKING)),
            ).fetchone()
        return Decimal(row[0]) if row else Decimal(0)

    def free_balance_in(self, cur: Any, wallet: str, isin: str) -> Decimal:
        """Balance less what live holds lock; releases the wallet's expired holds first. One statement:
        its reads see the snapshot before its own UPDATE, so the holds it releases are added back."""
        row = cur.execute(
            "WITH expired AS ("
            "  UPDATE chain_holds SET status = %(released)s, reason = 'hold expired'"
            "  WHERE holder = %(wallet)s AND isin = %(isin)s AND status = %(held)s AND expires_at <= %(now)s"
            "  RETURNING qty)"
            " SELECT coalesce((SELECT units FROM chain_balances WHERE wallet = %(wallet)s AND isin = %(isin)s), 0)"
            " - (SELECT coalesce(sum(qty), 0) FROM chain_holds"
            "    WHERE holder = %(wallet)s AND isin = %(isin)s AND status = ANY(%(locking)s))"
            " + (SELECT coalesce(sum(qty), 0) FROM expired)",
            {
                "released": RELEASED,
                "held": HELD,
                "wallet": wallet,
                "isin": isin,
                "now": self.clock.now(),
                "locking": list(LOCKING),
            },
        ).fetchone()
        return Decimal(row[0]) if row else Decimal(0)

    # -- internals ------------------------------------------------------------------------------------

    @staticmethod
    def _hold_row(cur: Any, hold_id: str) -> Any:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM chain_holds WHERE hold_id = %s FOR UPDATE", (hold_id,)
        ).fetchone()

    def _refresh(self, cur: Any, row: Any) -> HoldStatus:
        """Apply what time has done: an expired hold is released, a due execution becomes final."""
        hold_id, status, reason, tx_hash, isin, holder, beneficiary, qty, expires_at, final_after = row
        now = self.clock.now()
        if status == HELD and now >= expires_at:
            return self._set(cur, hold_id, RELEASED, "hold expired")
        if status != PENDING or now < final_after:
            return HoldStatus(hold_id, status, tx_hash, reason)
        self._add(cur, holder, isin, -qty)
        self._add(cur, beneficiary, isin, qty)
        cur.execute(
            "INSERT INTO chain_transfers (tx_hash, idempotency_key, kind, isin, from_wallet, to_wallet, qty,"
            " status, submitted_at, final_after) VALUES (%s, %s, 'HOLD', %s, %s, %s, %s, %s, %s, %s)",
            (tx_hash, f"hold:{hold_id}", isin, holder, beneficiary, qty, FINAL, final_after, final_after),
        )
        cur.execute("UPDATE chain_holds SET status = %s WHERE hold_id = %s", (FINAL, hold_id))
        return HoldStatus(hold_id, FINAL, tx_hash, None)

    @staticmethod
    def _set(cur: Any, hold_id: str, status: str, reason: str) -> HoldStatus:
        cur.execute(
            "UPDATE chain_holds SET status = %s, reason = %s WHERE hold_id = %s", (status, reason, hold_id)
        )
        return HoldStatus(hold_id, status, None, reason)

    # provided by the chain itself
    def _mint_once(self, cur: Any, wallet: str, isin: str, now: Any) -> None:
        raise NotImplementedError

    @staticmethod
    def _balance(cur: Any, wallet: str, isin: str, *, lock: bool = False) -> Decimal:
        raise NotImplementedError

    @staticmethod
    def _add(cur: Any, wallet: str, isin: str, units: Decimal) -> None:
        raise NotImplementedError

    @staticmethod
    def _tx_hash(idempotency_key: str) -> str:
        raise NotImplementedError
