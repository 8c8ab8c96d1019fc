"""The sandbox for settlement cash with dealers: payouts to a dealer (BUY), the dealer's payment in (SELL)
and refunds to a dealer. Like a real provider it answers at once that it accepted the request and
confirms later: `delay_seconds` after acceptance a signed webhook (API.md framing) reports CONFIRMED or
FAILED, and a status query answers the same once that time has passed on the injected clock. Everything,
pending work included, is kept in its own PostgreSQL table (it stands for the outside world), so a
restarted worker or provider finishes what was accepted, and a key answers the same request once.

Fault switches (target `payments`, shared with the payments sandbox): `timeout_next` / `timeout_rate`
raise `PaymentProviderUnavailable` before anything happens; `fail_next` refuses the request at once;
`fail_rate` makes an accepted request fail when it is decided; `duplicate_rate` sends its webhook twice.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson

from bondflow.adapters.escrow_bank import EscrowBank
from bondflow.adapters.payments_port import PaymentProviderUnavailable
from bondflow.adapters.payout_port import CANCELLED, CONFIRMED, FAILED, PENDING, PayoutResult
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import Faults, FaultSwitches
from bondflow.adapters.webhook_outbox import WebhookOutbox
from bondflow.adapters.webhook_sender import Delivery, SignedWebhookSender
from bondflow.runtime.clock import Clock

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
ALTER TABLE sandbox_payouts ADD COLUMN IF NOT EXISTS outcome text;
ALTER TABLE sandbox_payouts ADD COLUMN IF NOT EXISTS due_at timestamptz;
"""
_COLUMNS = "status, reference, reason, outcome, due_at, instruction_id, direction, amount"


class SandboxPayouts:
    def __init__(
        self,
        db: Database,
        faults: FaultSwitches | None = None,
        *,
        clock: Clock,
        delivery: Delivery | None = None,
        secret: str = "",
        delay_seconds: float = 0.3,
    ) -> None:
        self.db = db
        self.clock = clock
        self.faults: FaultSwitches = faults or Faults("payments")
        self.delay = timedelta(seconds=delay_seconds)
        self.deliver: Delivery | None = delivery  # where webhooks go (None: status queries only)
        # owed webhooks wait in PostgreSQL, written with the request: a killed provider still calls back
        self.sender = SignedWebhookSender(self._deliver_decided, secret, clock, WebhookOutbox(db, "payouts"))
        self.bank: EscrowBank | None = None  # the escrow bank's own book, set by bootstrap

    def setup(self) -> None:
        self.db.create_tables("sandbox_payouts", DDL)
        self.sender.outbox.setup()

    def transfer(
        self, instruction_id: str, amount: Decimal, direction: str, counterparty: str, idempotency_key: str
    ) -> PayoutResult:
        with self.db.transaction(commit_on=(PaymentProviderUnavailable,)) as cur:
            # one request per key at a time, whichever process makes it
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (idempotency_key,))
            known = self._row(cur, idempotency_key)
            if known is not None:
                return self._refresh(cur, idempotency_key, known)
            on = self.faults.current(cur)  # every switch of the target in one read, on our connection
            if on.times_out(idempotency_key):
                raise PaymentProviderUnavailable("sandbox payouts: injected timeout")
            reference = "SBXSET" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16].upper()
            refused = on.take("fail_next")
            outcome = FAILED if refused or on.hits("fail_rate", idempotency_key) else CONFIRMED
            status = FAILED if refused else PENDING
            reason = "refused by the provider" if refused else None
            cur.execute(
                "INSERT INTO sandbox_payouts (idempotency_key, instruction_id, direction, counterparty, amount,"
                " status, reference, reason, outcome, due_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    idempotency_key,
                    instruction_id,
                    direction,
                    counterparty,
                    amount,
                    status,
                    reference,
                    reason,
                    outcome,
                    self.clock.now() + self.delay,
                ),
            )
            twice = on.hits("duplicate_rate", idempotency_key)
            if not refused:
                body = self._body(idempotency_key, instruction_id, direction, outcome, reference, amount)
                seconds = self.delay.total_seconds()
                self.sender.send_later(seconds, body, within=cur)
                if twice:
                    self.sender.send_later(seconds * 2, body, within=cur)
        return PayoutResult(status, reference, reason)

    def status(self, idempotency_key: str) -> PayoutResult | None:
        """The request's state, decided once its time has come; None if never requested."""
        with self.db.transaction() as cur:
            row = self._row(cur, idempotency_key)
            return None if row is None else self._refresh(cur, idempotency_key, row)

    def cancel(self, idempotency_key: str) -> PayoutResult:
        """Cancel whatever this key did not do yet: a transfer already made stays made (and is reported)."""
        with self.db.transaction() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (idempotency_key,))
            row = self._row(cur, idempotency_key)
            if row is None:
                cur.execute(
                    "INSERT INTO sandbox_payouts (idempotency_key, status, reference, reason)"
                    " VALUES (%s, %s, '', 'cancelled before it was made')",
                    (idempotency_key, CANCELLED),
                )
                return PayoutResult(CANCELLED, "", "cancelled before it was made")
            current = self._refresh(cur, idempotency_key, row)
            if current.status != PENDING:
                return current
            cur.execute(
                "UPDATE sandbox_payouts SET status = %s, reason = 'cancelled' WHERE idempotency_key = %s",
                (CANCELLED, idempotency_key),
            )
            return PayoutResult(CANCELLED, current.reference, "cancelled")

    @property
    def moved(self) -> dict[str, Decimal]:
        """Idempotency key → amount actually moved, for every transfer the provider made."""
        return {key: amount for key, *_rest, amount in self.transfers(CONFIRMED)}

    def transfers(self, status: str = CONFIRMED) -> list[tuple[str, str, str, str, Decimal]]:
        """(key, instruction id, direction, counterparty, amount) of every transfer in `status`."""
        with self.db.cursor() as cur:
            rows = cur.execute(
                "SELECT idempotency_key, instruction_id, direction, counterparty, amount FROM sandbox_payouts"
                " WHERE status = %s ORDER BY idempotency_key",
                (status,),
            ).fetchall()
        return [(str(k), str(i), str(d), str(c), Decimal(a)) for k, i, d, c, a in rows]

    def close(self) -> None:
        self.sender.close()

    # -- internals ------------------------------------------------------------------------------------

    @staticmethod
    def _row(cur: Any, key: str) -> Any:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM sandbox_payouts WHERE idempotency_key = %s FOR UPDATE", (key,)
        ).fetchone()

    def _refresh(self, cur: Any, key: str, row: Any, *, now_due: bool = False) -> PayoutResult:
        status, reference, reason, outcome, due_at, *_ = row
        if status != PENDING or not (now_due or self.clock.now() >= due_at):
            return PayoutResult(status, reference, reason)
        reason = None if outcome == CONFIRMED else "refused by the provider"
        cur.execute(
            "UPDATE sandbox_payouts SET status = %s, reason = %s WHERE idempotency_key = %s",
            (outcome, reason, key),
        )
        if outcome == CONFIRMED and self.bank is not None:  # the money moves at the bank, in this transaction
            instruction_id, direction, amount = row[5], row[6], row[7]
            cash_in = direction == "COLLECT_FROM_DEALER"
            self.bank.book(reference, Decimal(amount), cash_in=cash_in, narrative=instruction_id, cur=cur)
        return PayoutResult(outcome, reference, reason)

    def _deliver_decided(self, body: bytes, headers: dict[str, str]) -> int:
        """The webhook's time has come: decide the request, then tell BondFlow (never a cancelled one)."""
        key = orjson.loads(body)["payout_id"]
        with self.db.transaction() as cur:
            row = self._row(cur, key)
            current = self._refresh(cur, key, row, now_due=True)
        if current.status == CANCELLED or self.deliver is None:
            return 200
        return self.deliver(body, headers)

    @staticmethod
    def _body(
        key: str, instruction_id: str, direction: str, outcome: str, reference: str, amount: Decimal
    ) -> bytes:
        digest = hashlib.sha256(("payout:" + key).encode()).hexdigest()
        return orjson.dumps(
            {
                "event_id": f"pevt_{digest[:32]}",
                "payout_id": key,
                "settlement_id": instruction_id,
                "direction": direction,
                "status": outcome,
                "reference": reference,
                "amount": str(amount),
            }
        )
