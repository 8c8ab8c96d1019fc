"""The sandbox for settlement cash transfers (dealer payouts and collections). Like a real provider it
remembers each idempotency key, here in its own PostgreSQL table (it stands for the outside world), so a
worker killed after the call and restarted gets the same answer for the same key and moves nothing twice.

Fault switches (target `payments`, shared with the payments sandbox): `timeout_next` / `timeout_rate`
raise `PaymentProviderUnavailable` before anything happens; `fail_next` / `fail_rate` refuse the transfer.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from bondflow.adapters.payments_port import PaymentProviderUnavailable
from bondflow.adapters.payout_port import CANCELLED, CONFIRMED, FAILED, PayoutResult
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import Faults, FaultSwitches

DDL = """
CREATE TABLE IF NOT EXISTS sandbox_payouts (
    idempotency_key text PRIMARY KEY,
    instruction_id text,
    direction text,
    counterparty text,
    amount numeric(20, 2),
    status text NOT NULL,
    reference text NOT NULL,
    reason text
);
"""


class SandboxPayouts:
    def __init__(self, db: Database, faults: FaultSwitches | None = None) -> None:
        self.db = db
        self.faults: FaultSwitches = faults or Faults("payments")

    def setup(self) -> None:
        self.db.create_tables("sandbox_payouts", DDL)

    def transfer(
        self, instruction_id: str, amount: Decimal, direction: str, counterparty: str, idempotency_key: str
    ) -> PayoutResult:
        with self.db.transaction() as cur:
            # one request per key at a time, whichever process makes it
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (idempotency_key,))
            known = self._result(cur, idempotency_key)
            if known is not None:
                return known
            on = self.faults.current()  # every switch of the target in one read
            if on.times_out(idempotency_key):
                raise PaymentProviderUnavailable("sandbox payouts: injected timeout")
            reference = "SBXSET" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16].upper()
            refused = on.take("fail_next") or on.hits("fail_rate", idempotency_key)
            result = PayoutResult(
                FAILED if refused else CONFIRMED, reference, "refused by the provider" if refused else None
            )
            cur.execute(
                "INSERT INTO sandbox_payouts (idempotency_key, instruction_id, direction, counterparty, amount,"
                " status, reference, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    idempotency_key,
                    instruction_id,
                    direction,
                    counterparty,
                    amount,
                    result.status,
                    reference,
                    result.reason,
                ),
            )
            return result

    def cancel(self, idempotency_key: str) -> PayoutResult:
        """Cancel whatever this key did not do yet: a transfer already made stays made (and is reported)."""
        with self.db.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (idempotency_key,))
            known = self._result(cur, idempotency_key)
            if known is not None:
                return known
            cur.execute(
                "INSERT INTO sandbox_payouts (idempotency_key, status, reference, reason)"
                " VALUES (%s, %s, '', 'cancelled before it was made')",
                (idempotency_key, CANCELLED),
            )
            return PayoutResult(CANCELLED, "", "cancelled before it was made")

    @property
    def moved(self) -> dict[str, Decimal]:
        """Idempotency key → amount actually moved, for every transfer the provider made."""
        with self.db.cursor() as cur:
            rows = cur.execute(
                "SELECT idempotency_key, amount FROM sandbox_payouts WHERE status = %s", (CONFIRMED,)
            ).fetchall()
        return {str(k): Decimal(a) for k, a in rows}

    @staticmethod
    def _result(cur: Any, key: str) -> PayoutResult | None:
        row = cur.execute(
            "SELECT status, reference, reason FROM sandbox_payouts WHERE idempotency_key = %s", (key,)
        ).fetchone()
        return None if row is None else PayoutResult(row[0], row[1], row[2])
