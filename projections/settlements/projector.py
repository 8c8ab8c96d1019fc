"""Settlements in PostgreSQL: one row per trade's DvP saga with its legs, references and history; rows and
position committed together. Also the queries (own settlement, ops list, deadlines due)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.utils import get_topic
from orjson import dumps

from bondflow.adapters.postgres import Database
from bondflow.domain.settlement import STEP_STATES, TERMINAL, Settlement
from bondflow.errors import NotFound
from projections.base.postgres import PostgresProjector

DDL = """
CREATE TABLE IF NOT EXISTS settlements_view (
    settlement_id uuid PRIMARY KEY,
    trade_id uuid NOT NULL UNIQUE,
    order_id uuid NOT NULL,
    user_id text NOT NULL,
    isin text NOT NULL,
    side text NOT NULL,
    dealer text NOT NULL,
    qty numeric(20, 6) NOT NULL,
    consideration numeric(20, 2) NOT NULL,
    state text NOT NULL,
    payment_state text NOT NULL DEFAULT 'NOT_STARTED',
    payment_reference text,
    token_state text NOT NULL DEFAULT 'NOT_STARTED',
    tx_hash text,
    failure_code text,
    reason text,
    deadline_step text,
    deadline_at timestamptz,
    history jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS settlements_view_state ON settlements_view (state, updated_at DESC);
CREATE INDEX IF NOT EXISTS settlements_view_deadline ON settlements_view (deadline_at) WHERE deadline_at IS NOT NULL;
"""

EVENT_NAMES = (
    "Started",
    "PaymentInstructed",
    "PaymentConfirmed",
    "PaymentFailed",
    "TokenTransferRequested",
    "TokenTransferred",
    "TokenTransferFailed",
    "RefundRequested",
    "Refunded",
    "Completed",
    "Failed",
    "DeadlineExpired",
    "BreakRaised",
    "RetryRequested",
    "HoldRequested",
    "HoldPlaced",
    "HoldFailed",
    "HoldReleaseRequested",
    "HoldReleased",
    "DealerPayoutInstructed",
    "DealerPaid",
    "DealerRefundInstructed",
    "DealerRefunded",
    "ProceedsCredited",
    "CashReturned",
)
STARTED = Settlement.Started
HISTORY_FIELDS = ("reference", "tx_hash", "code", "reason", "step", "forced_by", "amount", "deadline_at")
# event name -> column updates (None: leave as it is)
UPDATES: dict[str, dict[str, str | None]] = {
    "PaymentInstructed": {"state": "PAYMENT_INSTRUCTED", "payment_state": "INSTRUCTED"},
    "PaymentConfirmed": {"state": "PAYMENT_CONFIRMED", "payment_state": "CONFIRMED"},
    "PaymentFailed": {"state": "PAYMENT_FAILED", "payment_state": "FAILED"},
    "TokenTransferRequested": {"state": "TOKEN_REQUESTED", "token_state": "REQUESTED"},
    "TokenTransferred": {"state": "TOKEN_TRANSFERRED", "token_state": "FINAL"},
    "TokenTransferFailed": {"state": "TOKEN_FAILED", "token_state": "FAILED"},
    "RefundRequested": {"state": "REFUND_REQUESTED", "payment_state": "REFUND_REQUESTED"},
    "Refunded": {"state": "REFUNDED", "payment_state": "REFUNDED"},
    "Completed": {"state": "COMPLETED"},
    "Failed": {"state": "FAILED"},
    "BreakRaised": {"state": "BROKEN"},
    "HoldRequested": {"state": "HOLD_REQUESTED", "token_state": "HOLD_REQUESTED"},
    "HoldPlaced": {"state": "HOLD_PLACED", "token_state": "HELD"},
    "HoldFailed": {"state": "HOLD_FAILED", "token_state": "HOLD_FAILED"},
    "HoldReleaseRequested": {"state": "RELEASE_REQUESTED", "token_state": "RELEASE_REQUESTED"},
    "HoldReleased": {"state": "HOLD_RELEASED", "token_state": "RELEASED"},
    "DealerPayoutInstructed": {"state": "PAYOUT_INSTRUCTED", "payment_state": "PAYOUT_INSTRUCTED"},
    "DealerPaid": {"state": "DEALER_PAID", "payment_state": "PAID"},
    "DealerRefundInstructed": {"state": "REFUND_INSTRUCTED", "payment_state": "REFUND_INSTRUCTED"},
    "DealerRefunded": {"state": "DEALER_REFUNDED", "payment_state": "REFUNDED"},
    "CashReturned": {"payment_state": "RETURNED"},
}
# event name -> the step whose deadline it sets
DEADLINE_STEPS = {
    "PaymentInstructed": "payment",
    "TokenTransferRequested": "token",
    "HoldRequested": "hold",
    "HoldReleaseRequested": "release",
    "DealerPayoutInstructed": "payout",
    "DealerRefundInstructed": "refund",
}
CLEARS_DEADLINE = frozenset(
    {
        "PaymentConfirmed",
        "PaymentFailed",
        "TokenTransferred",
        "TokenTransferFailed",
        "Completed",
        "Failed",
        "HoldPlaced",
        "HoldFailed",
        "HoldReleased",
        "DealerPaid",
        "DealerRefunded",
    }
)
FIELDS = (
    "settlement_id",
    "trade_id",
    "order_id",
    "user_id",
    "isin",
    "side",
    "dealer",
    "qty",
    "consideration",
    "state",
    "payment_state",
    "payment_reference",
    "token_state",
    "tx_hash",
    "failure_code",
    "reason",
    "deadline_step",
    "deadline_at",
    "history",
    "created_at",
    "updated_at",
)


class SettlementsProjector(PostgresProjector):
    name = "settlements_view"
    tables: ClassVar[dict[str, str]] = {"settlements_view": "settlement_id"}
    topics = frozenset(get_topic(getattr(Settlement, n)) for n in EVENT_NAMES)
    ddl = DDL

    def apply(self, cur: Any, e: Any, position: int) -> None:
        name = type(e).__qualname__.rsplit(".", 1)[-1]
        entry = {"event": name, "at": e.timestamp.isoformat()}
        entry.update({k: str(getattr(e, k)) for k in HISTORY_FIELDS if getattr(e, k, None) is not None})
        history = dumps([entry]).decode()
        if isinstance(e, STARTED):
            cur.execute(
                "INSERT INTO settlements_view (settlement_id, trade_id, order_id, user_id, isin, side, dealer, qty,"
                " consideration, state, history, created_at, updated_at, position)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'STARTED', %s::jsonb, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (
                    e.originator_id,
                    e.trade_id,
                    e.order_id,
                    e.user_id,
                    e.isin,
                    e.side,
                    e.dealer,
                    e.qty,
                    e.consideration,
                    history,
                    e.timestamp,
                    e.timestamp,
                    position,
                ),
            )
            return
        sets = dict(UPDATES.get(name, {}))
        if name in DEADLINE_STEPS:
            sets["deadline_step"] = DEADLINE_STEPS[name]
        if name in ("PaymentConfirmed", "DealerPaid", "DealerRefunded"):
            sets["payment_reference"] = e.reference
        if name in ("TokenTransferred", "TokenTransferFailed") and e.tx_hash:
            sets["tx_hash"] = e.tx_hash
        if name in ("PaymentFailed", "TokenTransferFailed", "Failed", "HoldFailed"):
            sets["failure_code"] = e.code
            sets["reason"] = e.reason
        if name == "BreakRaised":
            sets["reason"] = e.reason
        if name in {"RetryRequested", "DeadlineExpired"}:
            sets["state"] = STEP_STATES[e.step].value
        assignments = [f"{column} = %s" for column in sets]
        values: list[Any] = list(sets.values())
        if name in DEADLINE_STEPS or name == "RetryRequested":
            assignments.append("deadline_at = %s")
            values.append(e.deadline_at)
        if name == "RetryRequested":
            assignments.append("deadline_step = %s")
            values.append(e.step)
        if name in CLEARS_DEADLINE:
            assignments.append("deadline_at = NULL, deadline_step = NULL")
        if name == "DeadlineExpired":
            assignments.append("deadline_at = NULL")
        cur.execute(
            "UPDATE settlements_view SET "
            + ", ".join([*assignments, "history = history || %s::jsonb", "updated_at = %s", "position = %s"])
            + " WHERE settlement_id = %s AND position < %s",
            (*values, history, e.timestamp, position, e.originator_id, position),
        )


def _row(r: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(FIELDS, r, strict=True))


def by_trade(db: Database, trade_id: UUID, *, owner: str | None) -> dict[str, Any]:
    with db.cursor() as cur:
        r = cur.execute(
            f"SELECT {', '.join(FIELDS)} FROM settlements_view WHERE trade_id = %s", (trade_id,)
        ).fetchone()
    if r is None or (owner is not None and r[3] != owner):
        raise NotFound("settlement not found", {"trade_id": str(trade_id)})
    return _row(r)


def by_id(db: Database, settlement_id: UUID) -> dict[str, Any]:
    with db.cursor() as cur:
        r = cur.execute(
            f"SELECT {', '.join(FIELDS)} FROM settlements_view WHERE settlement_id = %s", (settlement_id,)
        ).fetchone()
    if r is None:
        raise NotFound("settlement not found", {"settlement_id": str(settlement_id)})
    return _row(r)


def list_by_state(db: Database, state: str | None, limit: int) -> list[dict[str, Any]]:
    where = "WHERE state = %s" if state else ""
    params: list[Any] = [state] if state else []
    with db.cursor() as cur:
        rows = cur.execute(
            f"SELECT {', '.join(FIELDS)} FROM settlements_view {where} ORDER BY updated_at DESC LIMIT %s",
            (*params, limit),
        ).fetchall()
    return [_row(r) for r in rows]


def due(conn: Any, now: datetime) -> list[UUID]:
    """Settlements whose current step is past its deadline (terminal ones never are; breaks wait for ops).
    `conn` is a connection or cursor: the timer polls on its own connection, not the shared pool."""
    rows = conn.execute(
        "SELECT settlement_id FROM settlements_view WHERE deadline_at <= %s AND state <> ALL(%s)"
        " ORDER BY deadline_at",
        (now, [*(s.value for s in TERMINAL), "BROKEN"]),
    ).fetchall()
    return [r[0] for r in rows]


def counts(db: Database) -> dict[str, int]:
    with db.cursor() as cur:
        rows = cur.execute("SELECT state, count(*) FROM settlements_view GROUP BY state").fetchall()
    return {r[0]: int(r[1]) for r in rows}
