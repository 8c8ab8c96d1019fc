"""The sandbox chain: a persistent permissioned ledger of token balances per wallet and ISIN in its own
PostgreSQL tables (it stands for the outside world), with finality `finality_delay` after submission on
the injected clock and a `tx_hash` per transfer.

Dealer wallets are minted a fixed supply per ISIN the first time they send it (recorded as a MINT), so per
ISIN the sum over wallets always equals the sum of mints. Fault switches (target `chain`): `timeout_next` /
`timeout_rate` raise `ChainUnavailable` before anything is recorded; `fail_next` and `fail_rate` make the
chain reject a transfer; `stall_rate` leaves a transfer pending for good (its deadline then cancels it).
A transfer that would overdraw its sender (or take tokens a hold locks) fails at submission or at
finality. Holds (place, execute, release, expiry): `bondflow.adapters.chain_sandbox_holds`. `mint` (listing)
and `burn` (redemption) are final at once and keyed like transfers; `supply` = minted − burned.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bondflow.adapters.chain_port import (
    CANCELLED,
    FAILED,
    FINAL,
    PENDING,
    ChainUnavailable,
    TransferStatus,
)
from bondflow.adapters.chain_sandbox_holds import HOLDS_DDL, HoldsMixin
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import Faults, FaultSwitches
from bondflow.runtime.clock import Clock

DEALER_SUPPLY = Decimal(10_000_000)
STALLED = timedelta(days=36_500)  # a transfer the chain never finalises (fault `stall_rate`)

DDL = """
CREATE TABLE IF NOT EXISTS chain_balances (
    wallet text NOT NULL,
    isin text NOT NULL,
    units numeric(20, 6) NOT NULL,
    PRIMARY KEY (wallet, isin)
);
CREATE TABLE IF NOT EXISTS chain_transfers (
    tx_hash text PRIMARY KEY,
    idempotency_key text UNIQUE,
    kind text NOT NULL,
    isin text NOT NULL,
    from_wallet text,
    to_wallet text,
    qty numeric(20, 6) NOT NULL,
    status text NOT NULL,
    reason text,
    submitted_at timestamptz NOT NULL,
    final_after timestamptz NOT NULL
);
"""


def tx_hash_of(idempotency_key: str) -> str:
    return "0x" + hashlib.sha256(b"bondflow-chain:" + idempotency_key.encode()).hexdigest()


class SandboxChain(HoldsMixin):
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        finality_delay: timedelta = timedelta(milliseconds=20),
        faults: FaultSwitches | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.finality_delay = finality_delay
        self.faults: FaultSwitches = faults or Faults("chain")
        self._minted: set[tuple[str, str]] = set()  # dealer supplies seen already committed

    def setup(self) -> None:
        self.db.create_tables("chain_sandbox", DDL + HOLDS_DDL)

    def submit(
        self, isin: str, from_wallet: str, to_wallet: str, qty: Decimal, idempotency_key: str
    ) -> TransferStatus:
        with self.db.transaction(commit_on=(ChainUnavailable,)) as cur:
            known = self._row(cur, idempotency_key)
            if known is not None:
                return self._finalize_if_due(cur, known)
            on = self.faults.current(cur)  # every switch of the target in one read, on our connection
            if on.times_out(idempotency_key):
                raise ChainUnavailable("sandbox chain: injected timeout")
            now = self.clock.now()
            if from_wallet.startswith("dealer:"):
                self._mint_once(cur, from_wallet, isin, now)
            rejected = on.take("fail_next") or on.hits("fail_rate", idempotency_key)
            delay = STALLED if on.hits("stall_rate", idempotency_key) else self.finality_delay
            reason = "rejected by the chain (injected)" if rejected else None
            if reason is None and self.free_balance_in(cur, from_wallet, isin) < qty:
                reason = "insufficient token balance"
            tx_hash = tx_hash_of(idempotency_key)
            cur.execute(
                "INSERT INTO chain_transfers (tx_hash, idempotency_key, kind, isin, from_wallet, to_wallet, qty,"
                " status, reason, submitted_at, final_after) VALUES (%s, %s, 'TRANSFER', %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    tx_hash,
                    idempotency_key,
                    isin,
                    from_wallet,
                    to_wallet,
                    qty,
                    FAILED if reason else PENDING,
                    reason,
                    now,
                    now + delay,
                ),
            )
            return TransferStatus(tx_hash, FAILED if reason else PENDING, reason)

    def status(self, idempotency_key: str) -> TransferStatus | None:
        with self.db.transaction() as cur:
            row = self._row(cur, idempotency_key)
            return None if row is None else self._finalize_if_due(cur, row)

    def cancel(self, idempotency_key: str) -> TransferStatus:
        with self.db.transaction() as cur:
            row = self._row(cur, idempotency_key)
            if row is None:  # never submitted: a tombstone makes sure a late submission cannot happen
                now = self.clock.now()
                tx_hash = tx_hash_of(idempotency_key)
                cur.execute(
                    "INSERT INTO chain_transfers (tx_hash, idempotency_key, kind, isin, qty, status, reason,"
                    " submitted_at, final_after) VALUES (%s, %s, 'TRANSFER', '', 0, %s, 'cancelled', %s, %s)",
                    (tx_hash, idempotency_key, CANCELLED, now, now),
                )
                return TransferStatus(tx_hash, CANCELLED, "cancelled")
            current = self._finalize_if_due(cur, row)
            if current.status != PENDING:
                return current
            cur.execute(
                "UPDATE chain_transfers SET status = %s, reason = 'cancelled' WHERE tx_hash = %s",
                (CANCELLED, current.tx_hash),
            )
            return TransferStatus(current.tx_hash, CANCELLED, "cancelled")

    def balance(self, wallet: str, isin: str) -> Decimal:
        with self.db.cursor() as cur:
            return self._balance(cur, wallet, isin)

    def balances(self) -> dict[tuple[str, str], Decimal]:
        with self.db.cursor() as cur:
            rows = cur.execute("SELECT wallet, isin, units FROM chain_balances").fetchall()
        return {(r[0], r[1]): r[2] for r in rows}

    def minted(self, isin: str) -> Decimal:
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT coalesce(sum(qty), 0) FROM chain_transfers WHERE kind = 'MINT' AND isin = %s", (isin,)
            ).fetchone()
        return Decimal(row[0]) if row else Decimal(0)

    # -- issuance and retirement (corporate actions) ----------------------------------------------------

    def mint(self, isin: str, wallet: str, qty: Decimal, idempotency_key: str) -> TransferStatus:
        """Issue `qty` new units to `wallet`, final at once; the same key answers the same mint."""
        return self._issue("MINT", isin, wallet, qty, idempotency_key)

    def burn(self, isin: str, wallet: str, qty: Decimal, idempotency_key: str) -> TransferStatus:
        """Retire `qty` units of `wallet` (a redemption), final at once; FAILED if the wallet holds less."""
        return self._issue("BURN", isin, wallet, qty, idempotency_key)

    def supply(self, isin: str) -> Decimal:
        """Units in existence for `isin` by the chain's own count: minted − burned."""
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT coalesce(sum(CASE kind WHEN 'MINT' THEN qty ELSE -qty END), 0) FROM chain_transfers"
                " WHERE isin = %s AND kind IN ('MINT', 'BURN') AND status = %s",
                (isin, FINAL),
            ).fetchone()
        return Decimal(row[0]) if row else Decimal(0)

    def wallet_balances(self, isin: str) -> dict[str, Decimal]:
        with self.db.cursor() as cur:
            rows = cur.execute(
                "SELECT wallet, units FROM chain_balances WHERE isin = %s AND units <> 0", (isin,)
            ).fetchall()
        return {r[0]: Decimal(r[1]) for r in rows}

    def final_burns(self, isin: str, key_prefix: str) -> list[tuple[str, Decimal, str, str]]:
        """(wallet, qty, tx_hash, key) of every final burn of `isin` whose key starts with `key_prefix`."""
        with self.db.cursor() as cur:
            rows = cur.execute(
                "SELECT from_wallet, qty, tx_hash, idempotency_key FROM chain_transfers WHERE kind = 'BURN'"
                " AND isin = %s AND status = %s AND starts_with(idempotency_key, %s) ORDER BY idempotency_key",
                (isin, FINAL, key_prefix),
            ).fetchall()
        return [(r[0], Decimal(r[1]), r[2], r[3]) for r in rows]

    def balances_as_of(self, isin: str, at: Any) -> dict[str, Decimal]:
        """Per wallet, the units of `isin` after every final movement whose finality came before `at`."""
        with self.db.cursor() as cur:
            rows = cur.execute(
                "SELECT wallet, sum(units) FROM ("
                " SELECT to_wallet AS wallet, qty AS units FROM chain_transfers"
                "  WHERE isin = %(isin)s AND status = %(final)s AND final_after < %(at)s AND kind <> 'BURN'"
                " UNION ALL SELECT from_wallet, -qty FROM chain_transfers"
                "  WHERE isin = %(isin)s AND status = %(final)s AND final_after < %(at)s AND kind <> 'MINT'"
                ") moves WHERE wallet IS NOT NULL GROUP BY wallet",
                {"isin": isin, "final": FINAL, "at": at},
            ).fetchall()
        return {r[0]: Decimal(r[1]) for r in rows if Decimal(r[1]) != 0}

    # -- internals ------------------------------------------------------------------------------------

    @staticmethod
    def _row(cur: Any, key: str) -> Any:
        return cur.execute(
            "SELECT tx_hash, status, reason, isin, from_wallet, to_wallet, qty, final_after"
            " FROM chain_transfers WHERE idempotency_key = %s FOR UPDATE",
            (key,),
        ).fetchone()

    def _finalize_if_due(self, cur: Any, row: Any) -> TransferStatus:
        tx_hash, status, reason, isin, from_wallet, to_wallet, qty, final_after = row
        if status != PENDING or self.clock.now() < final_after:
            return TransferStatus(tx_hash, status, reason)
        self._balance(cur, from_wallet, isin, lock=True)
        if self.free_balance_in(cur, from_wallet, isin) < qty:
            cur.execute(
                "UPDATE chain_transfers SET status = %s, reason = 'insufficient token balance' WHERE tx_hash = %s",
                (FAILED, tx_hash),
            )
            return TransferStatus(tx_hash, FAILED, "insufficient token balance")
        self._add(cur, from_wallet, isin, -qty)
        self._add(cur, to_wallet, isin, qty)
        cur.execute("UPDATE chain_transfers SET status = %s WHERE tx_hash = %s", (FINAL, tx_hash))
        return TransferStatus(tx_hash, FINAL, None)

    def _mint_once(self, cur: Any, wallet: str, isin: str, now: Any) -> None:
        if (wallet, isin) in self._minted:
            return
        key = f"mint:{wallet}:{isin}"
        inserted = cur.execute(
            "INSERT INTO chain_transfers (tx_hash, idempotency_key, kind, isin, to_wallet, qty, status,"
            " submitted_at, final_after) VALUES (%s, %s, 'MINT', %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING tx_hash",
            (tx_hash_of(key), key, isin, wallet, DEALER_SUPPLY, FINAL, now, now),
        ).fetchone()
        if inserted:
            self._add(cur, wallet, isin, DEALER_SUPPLY)
        else:  # minted by a transaction that committed: no need to ask again
            self._minted.add((wallet, isin))

    _tx_hash = staticmethod(tx_hash_of)

    @staticmethod
    def _balance(cur: Any, wallet: str, isin: str, *, lock: bool = False) -> Decimal:
        row = cur.execute(
            "SELECT units FROM chain_balances WHERE wallet = %s AND isin = %s"
            + (" FOR UPDATE" if lock else ""),
            (wallet, isin),
        ).fetchone()
        return Decimal(row[0]) if row else Decimal(0)

    @staticmethod
    def _add(cur: Any, wallet: str, isin: str, units: Decimal) -> None:
        cur.execute(
            "INSERT INTO chain_balances (wallet, isin, units) VALUES (%s, %s, %s)"
            " ON CONFLICT (wallet, isin) DO UPDATE SET units = chain_balances.units + EXCLUDED.units",
            (wallet, isin, units),
        )

    def _issue(self, kind: str, isin: str, wallet: str, qty: Decimal, key: str) -> TransferStatus:
        with self.db.transaction(commit_on=(ChainUnavailable,)) as cur:
            known = self._row(cur, key)
            if known is not None:
                return TransferStatus(known[0], known[1], known[2])
            if self.faults.current(cur).times_out(key):
                raise ChainUnavailable("sandbox chain: injected timeout")
            now = self.clock.now()
            short = kind == "BURN" and self._balance(cur, wallet, isin, lock=True) < qty
            status, reason = (FAILED, "insufficient token balance") if short else (FINAL, None)
            inserted = cur.execute(
                "INSERT INTO chain_transfers (tx_hash, idempotency_key, kind, isin, from_wallet, to_wallet, qty,"
                " status, reason, submitted_at, final_after) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING RETURNING tx_hash",
                (
                    tx_hash_of(key),
                    key,
                    kind,
                    isin,
                    wallet if kind == "BURN" else None,
                    wallet if kind == "MINT" else None,
                    qty,
                    status,
                    reason,
                    now,
                    now,
                ),
            ).fetchone()
            if inserted is None:  # a concurrent call with the same key recorded it first: answer that one
                won = self._row(cur, key)
                return TransferStatus(won[0], won[1], won[2])
            if status == FINAL:
                self._add(cur, wallet, isin, qty if kind == "MINT" else -qty)
            return TransferStatus(tx_hash_of(key), status, reason)
