"""The sandbox payments provider (UPI/RTGS/NEFT): behaves like the real one without leaving the machine.

`initiate` remembers its idempotency key (the same key returns the same provider reference and sends one
webhook), decides the outcome and about 0.3 s later calls back with a webhook signed as API.md says.
Amounts ending in `.13` paise fail. What it has accepted and the webhooks it still owes are kept in
PostgreSQL (`sandbox_payments`, `sandbox_webhooks`), written in one transaction, so a provider process
killed between accepting and calling back finishes the work once any process runs it again, as a real
provider would. `status` answers what became of a key (PENDING until the answer is due), `cancel` makes
sure a key that never arrived never starts anything. Fault switches (`bondflow.adapters.sandbox_faults`,
target `payments`) turn failures on for tests and chaos runs:

- `fail_next`: the next `initiate` is refused (`PaymentInitiationFailed`, BF-PAY-006);
- `timeout_next` / `timeout_rate`: `initiate` times out before the provider accepts anything
  (`PaymentProviderUnavailable`); a retry with the same key then may go through; `timeout_rate` also
  makes status queries time out;
- `fail_rate`: each accepted payment fails with this probability (drawn per idempotency key);
- `duplicate_rate`: the webhook is delivered twice (a provider's redelivery).
"""

from __future__ import annotations

import hashlib
import itertools
from decimal import Decimal
from typing import Any

import orjson

from bondflow.adapters.escrow_bank import EscrowBank
from bondflow.adapters.payments_port import (
    CANCELLED,
    PENDING,
    UNKNOWN,
    PaymentProviderUnavailable,
    ProviderPaymentStatus,
)
from bondflow.adapters.postgres import Database
from bondflow.adapters.sandbox_faults import Faults, FaultSwitches
from bondflow.adapters.webhook_sender import SignedWebhookSender
from bondflow.errors import PaymentInitiationFailed

FAILING_PAISE = Decimal("0.13")
_QUERIES = itertools.count()  # numbers each status query, so a retried query draws its timeout anew

DDL = """
CREATE TABLE IF NOT EXISTS sandbox_payments (
    idempotency_key text PRIMARY KEY,
    payment_id text,
    payout boolean NOT NULL DEFAULT false,
    method text,
    amount numeric(20, 2),
    status text NOT NULL,
    reference text,
    body bytea,
    accepted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    final_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS sandbox_payments_payment ON sandbox_payments (payment_id);
"""


class SandboxPaymentProvider:
    def __init__(
        self,
        sender: SignedWebhookSender,
        db: Database,
        *,
        delay_seconds: float = 0.3,
        faults: FaultSwitches | None = None,
    ) -> None:
        self.sender = sender
        self.db = db
        self.delay_seconds = delay_seconds
        self.faults: FaultSwitches = faults or Faults("payments")
        self.bank: EscrowBank | None = None  # the escrow bank's own book, set by bootstrap

    def setup(self) -> None:
        self.db.create_tables("sandbox_payments", DDL)
        self.sender.outbox.setup()

    def initiate(
        self, payment_id: str, amount: Decimal, method: str, idempotency_key: str, *, payout: bool = False
    ) -> str:
        with self.db.transaction(commit_on=(PaymentProviderUnavailable, PaymentInitiationFailed)) as cur:
            _lock(cur, idempotency_key)  # one request per key at a time, whichever process makes it
            known = _row(cur, idempotency_key)
            if known is not None:
                if known["status"] == CANCELLED:
                    raise PaymentInitiationFailed(
                        "sandbox payments provider: cancelled before it arrived", {"payment_id": payment_id}
                    )
                return str(known["reference"])
            on = self.faults.current(cur)  # every switch of the target in one read, on our connection
            if on.times_out(idempotency_key):
                raise PaymentProviderUnavailable("sandbox payments provider: injected timeout")
            if on.take("fail_next"):
                raise PaymentInitiationFailed(
                    "sandbox payments provider: injected refusal", {"payment_id": payment_id}
                )
            digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
            reference = f"SBX{method}{digest[:16].upper()}"
            failed = amount % 1 == FAILING_PAISE or on.hits("fail_rate", idempotency_key)
            twice = on.hits("duplicate_rate", idempotency_key)
            status = "FAILED" if failed else "CONFIRMED"
            body = orjson.dumps(
                {
                    "event_id": f"pevt_{digest[16:48]}",
                    "payment_id": payment_id,
                    "status": status,
                    "reference": reference,
                    "amount": str(amount),
                }
            )
            cur.execute(
                "INSERT INTO sandbox_payments (idempotency_key, payment_id, payout, method, amount, status,"
                " reference, body, final_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp() + make_interval(secs => %s))",
                (
                    idempotency_key,
                    payment_id,
                    payout,
                    method,
                    amount,
                    status,
                    reference,
                    body,
                    self.delay_seconds,
                ),
            )
            if self.bank is not None and not failed:  # the money moves at the bank
                self.bank.book(reference, amount, cash_in=not payout, narrative=payment_id, cur=cur)
            self.sender.send_later(self.delay_seconds, body, within=cur)
            if twice:
                self.sender.send_later(self.delay_seconds * 2, body, within=cur)
        return reference

    def status(self, idempotency_key: str) -> ProviderPaymentStatus:
        if self.faults.current().hits("timeout_rate", f"status:{idempotency_key}#{next(_QUERIES)}"):
            raise PaymentProviderUnavailable("sandbox payments provider: status query timed out")
        with self.db.cursor() as cur:
            return _answer(_row(cur, idempotency_key))

    def cancel(self, idempotency_key: str) -> ProviderPaymentStatus:
        with self.db.transaction() as cur:
            _lock(cur, idempotency_key)
            known = _row(cur, idempotency_key)
            if known is not None:
                return _answer(known)
            cur.execute(
                "INSERT INTO sandbox_payments (idempotency_key, status) VALUES (%s, %s)",
                (idempotency_key, CANCELLED),
            )
        return ProviderPaymentStatus(CANCELLED)

    @property
    def accepted(self) -> list[str]:
        """Idempotency keys of the payments actually started, in the order they were."""
        with self.db.cursor() as cur:
            rows = cur.execute(
                "SELECT idempotency_key FROM sandbox_payments WHERE status <> %s ORDER BY accepted_at",
                (CANCELLED,),
            ).fetchall()
        return [str(key) for (key,) in rows]

    @property
    def sent(self) -> dict[str, bytes]:
        """Payment id → the webhook body sent for it."""
        with self.db.cursor() as cur:
            rows = cur.execute(
                "SELECT payment_id, body FROM sandbox_payments WHERE body IS NOT NULL"
            ).fetchall()
        return {str(payment_id): bytes(body) for payment_id, body in rows}

    def redeliver(self, payment_id: str) -> int:
        """Send the same provider event again (fresh timestamp and nonce), as real providers sometimes do."""
        return self.sender.send_now(self.sent[payment_id])

    def close(self) -> None:
        self.sender.close()


def _lock(cur: Any, idempotency_key: str) -> None:
    cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 11))", (idempotency_key,))


def _row(cur: Any, idempotency_key: str) -> dict[str, Any] | None:
    row = cur.execute(
        "SELECT status, reference, amount, body, final_at <= clock_timestamp()"
        " FROM sandbox_payments WHERE idempotency_key = %s",
        (idempotency_key,),
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("status", "reference", "amount", "body", "final"), row, strict=True))


def _answer(row: dict[str, Any] | None) -> ProviderPaymentStatus:
    if row is None:
        return ProviderPaymentStatus(UNKNOWN)
    if row["status"] == CANCELLED:
        return ProviderPaymentStatus(CANCELLED)
    if not row["final"]:
        return ProviderPaymentStatus(PENDING, row["reference"])
    event_id = orjson.loads(row["body"])["event_id"]
    return ProviderPaymentStatus(row["status"], row["reference"], Decimal(row["amount"]), str(event_id))
