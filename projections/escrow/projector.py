"""The escrow read models in PostgreSQL: balances per investor and payments (deposits and withdrawals).
Rows and position commit together; each row also keeps the position of the last event applied to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from bondflow.adapters.postgres import Database
from bondflow.domain.escrow import EscrowAccount, PaymentKind, PaymentStatus
from projections.base.postgres import PostgresProjector

DDL = """
CREATE TABLE IF NOT EXISTS escrow_balances (
    user_id text PRIMARY KEY,
    account_id uuid NOT NULL UNIQUE,
    available numeric(20, 2) NOT NULL DEFAULT 0,
    reserved numeric(20, 2) NOT NULL DEFAULT 0,
    pending_withdrawal numeric(20, 2) NOT NULL DEFAULT 0,
    currency text NOT NULL DEFAULT 'INR',
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS payments_view (
    payment_id text PRIMARY KEY,
    user_id text NOT NULL,
    kind text NOT NULL,
    method text NOT NULL,
    amount numeric(20, 2) NOT NULL,
    status text NOT NULL,
    reference text,
    reason text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_view_user_created ON payments_view (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS payments_view_open ON payments_view (status, created_at)
    WHERE status IN ('INITIATED', 'BROKEN');
"""

E = EscrowAccount
OPENED = E.Opened
DEPOSIT_INITIATED = E.DepositInitiated
PAYMENT_CONFIRMED = E.PaymentConfirmed
PAYMENT_FAILED = E.PaymentFailed
FUNDS_RESERVED = E.FundsReserved
FUNDS_RELEASED = E.FundsReleased
FUNDS_DEBITED = E.FundsDebited
FUNDS_CREDITED = E.FundsCredited
WITHDRAWAL_REQUESTED = E.WithdrawalRequested
WITHDRAWAL_PAID = E.WithdrawalPaid
WITHDRAWAL_FAILED = E.WithdrawalFailed
PAYMENT_BREAK_RAISED = E.PaymentBreakRaised
PAYMENT_AMOUNT_CORRECTED = E.PaymentAmountCorrected
EVENTS = (
    OPENED,
    DEPOSIT_INITIATED,
    PAYMENT_CONFIRMED,
    PAYMENT_FAILED,
    FUNDS_RESERVED,
    FUNDS_RELEASED,
    FUNDS_DEBITED,
    FUNDS_CREDITED,
    WITHDRAWAL_REQUESTED,
    WITHDRAWAL_PAID,
    WITHDRAWAL_FAILED,
    PAYMENT_BREAK_RAISED,
    PAYMENT_AMOUNT_CORRECTED,
)

# How each event moves (available, reserved, pending_withdrawal), as multiples of the amount it moves.
_BALANCE_MOVES: dict[type, tuple[int, int, int]] = {
    PAYMENT_CONFIRMED: (1, 0, 0),
    FUNDS_RESERVED: (-1, 1, 0),
    FUNDS_RELEASED: (1, -1, 0),
    FUNDS_DEBITED: (0, -1, 0),
    FUNDS_CREDITED: (1, 0, 0),
    WITHDRAWAL_REQUESTED: (-1, 0, 1),
    WITHDRAWAL_PAID: (0, 0, -1),
    WITHDRAWAL_FAILED: (1, 0, -1),
}
_SETTLED = {
    PAYMENT_CONFIRMED: PaymentStatus.CONFIRMED,
    PAYMENT_FAILED: PaymentStatus.FAILED,
    WITHDRAWAL_PAID: PaymentStatus.CONFIRMED,
    WITHDRAWAL_FAILED: PaymentStatus.FAILED,
    PAYMENT_BREAK_RAISED: PaymentStatus.BROKEN,
}


class EscrowProjector(PostgresProjector):
    name = "escrow_view"
    tables: ClassVar[dict[str, str]] = {"escrow_balances": "user_id", "payments_view": "payment_id"}
    ddl = DDL
    topics = frozenset(get_topic(c) for c in EVENTS)

    def apply(self, cur: Any, event: Any, position: int) -> None:
        kind = type(event)
        if kind is OPENED:
            cur.execute(
                "INSERT INTO escrow_balances (user_id, account_id, updated_at, position) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (event.user_id, event.originator_id, event.timestamp, position),
            )
            return
        if kind in (DEPOSIT_INITIATED, WITHDRAWAL_REQUESTED):
            payment_kind = PaymentKind.DEPOSIT if kind is DEPOSIT_INITIATED else PaymentKind.WITHDRAWAL
            cur.execute(
                "INSERT INTO payments_view (payment_id, user_id, kind, method, amount, status, created_at,"
                " updated_at, position) SELECT %s, user_id, %s, %s, %s, %s, %s, %s, %s FROM escrow_balances"
                " WHERE account_id = %s ON CONFLICT (payment_id) DO NOTHING",
                (
                    event.payment_id,
                    payment_kind.value,
                    event.method,
                    event.amount,
                    PaymentStatus.INITIATED.value,
                    event.timestamp,
                    event.timestamp,
                    position,
                    event.originator_id,
                ),
            )
        if kind in _SETTLED:
            cur.execute(
                "UPDATE payments_view SET status = %s, reference = %s, reason = %s, updated_at = %s, position = %s"
                " WHERE payment_id = %s AND position < %s",
                (
                    _SETTLED[kind].value,
                    event.reference,
                    event.reason,
                    event.timestamp,
                    position,
                    event.payment_id,
                    position,
                ),
            )
        if kind is PAYMENT_AMOUNT_CORRECTED:  # before it is credited: the bank statement's amount
            cur.execute(
                "UPDATE payments_view SET amount = %s, updated_at = %s WHERE payment_id = %s",
                (event.amount, event.timestamp, event.payment_id),
            )
        moves = _BALANCE_MOVES.get(kind)
        if moves is not None:
            self._move(cur, event, position, moves)

    @staticmethod
    def _move(cur: Any, event: Any, position: int, moves: tuple[int, int, int]) -> None:
        if "payment_id" in event.__dict__:  # a payment's own amount (a failure may report another one)
            row = cur.execute(
                "SELECT amount FROM payments_view WHERE payment_id = %s", (event.payment_id,)
            ).fetchone()
            amount = row[0]
        else:
            amount = event.amount
        to_available, to_reserved, to_pending = (amount * m for m in moves)
        cur.execute(
            "UPDATE escrow_balances SET available = available + %s, reserved = reserved + %s,"
            " pending_withdrawal = pending_withdrawal + %s, updated_at = %s, position = %s"
            " WHERE account_id = %s AND position < %s",
            (to_available, to_reserved, to_pending, event.timestamp, position, event.originator_id, position),
        )


@dataclass(frozen=True, slots=True)
class Balance:
    available: Decimal
    reserved: Decimal
    pending_withdrawal: Decimal
    currency: str
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class PaymentRow:
    payment_id: str
    user_id: str
    kind: str
    method: str
    amount: Decimal
    status: str
    reference: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime


def get_balance(db: Database, user_id: str) -> Balance:
    """The investor's balance; zero when they never funded their account."""
    with db.cursor() as cur:
        row = cur.execute(
            "SELECT available, reserved, pending_withdrawal, currency, updated_at FROM escrow_balances"
            " WHERE user_id = %s",
            (user_id,),
        ).fetchone()
    if row is None:
        zero = Decimal("0.00")
        return Balance(zero, zero, zero, "INR", None)
    return Balance(*row)


def list_payments(db: Database, status: str | None, limit: int) -> list[PaymentRow]:
    """Payments (for operators), optionally of one status, the most recently changed first."""
    with db.cursor() as cur:
        rows = cur.execute(
            f"SELECT {_PAYMENT_FIELDS} FROM payments_view WHERE (%s::text IS NULL OR status = %s)"
            " ORDER BY updated_at DESC, payment_id LIMIT %s",
            (status, status, limit),
        ).fetchall()
    return [PaymentRow(*row) for row in rows]


_PAYMENT_FIELDS = (
    "payment_id, user_id, kind, method, amount, status, reference, reason, created_at, updated_at"
)


def get_payment(db: Database, payment_id: str, owner: str | None) -> PaymentRow | None:
    """One payment; None when it does not exist or belongs to someone other than `owner`."""
    with db.cursor() as cur:
        row = cur.execute(
            "SELECT payment_id, user_id, kind, method, amount, status, reference, reason, created_at, updated_at"
            " FROM payments_view WHERE payment_id = %s AND (%s::text IS NULL OR user_id = %s)",
            (payment_id, owner, owner),
        ).fetchone()
    return None if row is None else PaymentRow(*row)
