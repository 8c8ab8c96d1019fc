"""The payments reconciler: a follower of the injected clock (like the settlement deadline timer) that
asks the provider about every deposit and withdrawal still INITIATED a check interval after it started,
and again every interval, and records a final answer through the payment command handlers (confirmed,
failed, or a break when it does not fit). At the payment's deadline with no final answer it hands the
payment to operators as a break; a payment the provider never received is cancelled there and failed.

It also serves the operators' resolution of a break: the provider is asked again, and the answer (with
the amount the bank statement shows, if given) settles it through `PaymentOutcomeHandler.resolve`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bondflow.adapters.payments_port import (
    CANCELLED,
    CONFIRMED,
    FAILED,
    UNKNOWN,
    PaymentProvider,
    PaymentProviderUnavailable,
    ProviderPaymentStatus,
)
from bondflow.adapters.postgres import Database
from bondflow.domain.escrow import DEADLINE_BREAK, PaymentStatus
from bondflow.errors import PaymentNotResolvable
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore
from bondflow.workers.payments import initiation_key
from bondflow.workers.ports import RECONCILER, PaymentOutcomeHandler, ProviderAnswer, Recorded

log = logging.getLogger(__name__)


DDL = """
CREATE TABLE IF NOT EXISTS payment_checks (
    payment_id text PRIMARY KEY,
    checks integer NOT NULL,
    next_check_at timestamptz NOT NULL
)
"""
_DUE = (
    "SELECT p.payment_id, p.created_at FROM payments_view p"
    " LEFT JOIN payment_checks c ON c.payment_id = p.payment_id"
    " WHERE p.status = 'INITIATED'"
    " AND coalesce(c.next_check_at, p.created_at + make_interval(secs => %s)) <= %s"
    " ORDER BY p.created_at LIMIT 100"
)


class PaymentReconciler:
    name = "payment_reconciler"
    topics: frozenset[str] = frozenset()
    tick_seconds = 1.0  # its intervals are seconds to minutes: no need to poll faster

    def __init__(
        self,
        db: Database,
        store: EventStore,
        clock: Clock,
        provider: PaymentProvider,
        outcomes: PaymentOutcomeHandler,
        *,
        check_seconds: float,
        deadline_seconds: float,
    ) -> None:
        self.db = db
        self.store = store
        self.clock = clock
        self.provider = provider
        self.outcomes = outcomes
        self.check_interval = timedelta(seconds=check_seconds)
        self.deadline = timedelta(seconds=deadline_seconds)

    def setup(self) -> None:
        # payments_view (what is still INITIATED) is created with every read model by the composition root
        self.db.create_tables("payment_checks", DDL)

    def position(self) -> int:
        return self.store.head_position()  # nothing to follow in the log: it never lags

    def process(self, events: Any, upto: int) -> None:
        """Nothing to follow (topics is empty)."""

    def tick(self, conn: Any = None) -> int:
        """Check every payment that is due (polling on `conn` if given); returns how many were decided."""
        now = self.clock.now()
        params = (self.check_interval.total_seconds(), now)
        if conn is None:
            with self.db.cursor() as cur:
                due = cur.execute(_DUE, params).fetchall()
        else:
            due = conn.execute(_DUE, params).fetchall()
        return sum(self.check(payment_id, created_at, now) for payment_id, created_at in due)

    def check(self, payment_id: str, created_at: datetime, now: datetime) -> int:
        """Ask the provider about one payment; 1 when something was decided."""
        account, payment = self.outcomes.payment(payment_id)
        if payment.status is not PaymentStatus.INITIATED:  # the read model has not caught up yet
            self._next_check(payment_id, now)
            return 0
        key = initiation_key(account.id, payment.initiated_version)
        request_id = f"reconcile:{payment_id}"
        answer = self._ask(key)
        if answer is not None and answer.status in (CONFIRMED, FAILED):
            return int(self._record(payment_id, answer, request_id).applied)
        deadline = created_at + self.deadline
        if now < deadline:
            self._next_check(payment_id, now)
            return 0
        if answer is not None and answer.status == UNKNOWN:  # never arrived: make sure it never will
            answer = self._ask(key, cancel=True)
            if answer is not None and answer.status == CANCELLED:
                return int(self.outcomes.never_received(payment_id, request_id=request_id).applied)
            if answer is not None and answer.status in (CONFIRMED, FAILED):
                return int(self._record(payment_id, answer, request_id).applied)
        reason = f"{DEADLINE_BREAK}: no final answer from the provider by {deadline.isoformat()}"
        log.warning("payment past its deadline is a break", extra={"payment_id": payment_id})
        return int(self.outcomes.deadline_passed(payment_id, reason, request_id=request_id).applied)

    def resolve(
        self, payment_id: str, bank_amount: Decimal | None, *, operator: str, request_id: str
    ) -> Recorded:
        """An operator's resolution of a break: ask the provider again and settle it with its answer."""
        account, payment = self.outcomes.payment(payment_id)
        key = initiation_key(account.id, payment.initiated_version)
        answer = self._ask(key)
        if answer is not None and answer.status == UNKNOWN:
            answer = self._ask(key, cancel=True)
        if answer is None:
            raise PaymentNotResolvable(
                "the provider did not answer the status query; try again", {"payment_id": payment_id}
            )
        final = None
        if answer.status in (CONFIRMED, FAILED, CANCELLED):
            confirmed = answer.status == CONFIRMED
            final = ProviderAnswer(payment_id, confirmed, answer.reference, answer.amount, answer.event_id)
        return self.outcomes.resolve(payment_id, final, bank_amount, operator=operator, request_id=request_id)

    def _ask(self, key: str, *, cancel: bool = False) -> ProviderPaymentStatus | None:
        try:
            return self.provider.cancel(key) if cancel else self.provider.status(key)
        except PaymentProviderUnavailable:
            return None

    def _record(self, payment_id: str, answer: ProviderPaymentStatus, request_id: str) -> Recorded:
        final = ProviderAnswer(
            payment_id, answer.status == CONFIRMED, answer.reference, answer.amount, answer.event_id
        )
        return self.outcomes.provider_answered(final, actor_id=RECONCILER, request_id=request_id)

    def _next_check(self, payment_id: str, now: datetime) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO payment_checks (payment_id, checks, next_check_at) VALUES (%s, 1, %s)"
                " ON CONFLICT (payment_id) DO UPDATE SET checks = payment_checks.checks + 1,"
                " next_check_at = EXCLUDED.next_check_at",
                (payment_id, now + self.check_interval),
            )
