"""The settlement effect workers: they alone call the chain and the dealer-payments adapters, each call
keyed by an idempotency key derived from the settlement, its step and the operator attempt, retried with
backoff and jitter behind a circuit breaker. Effects are in flight, not in line: a worker submits and
returns; an outcome not known yet comes back by a poll scheduled on the timer (`polls`), or by the
provider's webhook. A refusal is the step's failure (or, for an obligation after delivery, a break); a
provider that stays unavailable raises a break; a deadline cancels at the provider what is not final and
reports what actually happened (a transfer already final is reported as done, never undone).

This module holds what both legs share (the step worker); the legs are `settlement_chain` and
`settlement_payments`."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, ClassVar
from uuid import UUID

from bondflow.adapters.postgres import Database
from bondflow.domain.ids import derived_id
from bondflow.domain.settlement import (
    Settlement,
    SettlementState,
)
from bondflow.errors import FORCE_CANCELLED, PaymentInitiationFailed, SettlementTimeout
from bondflow.runtime.effect_follower import EffectFollower, topic_of
from bondflow.runtime.resilience import CircuitOpen, RetriesExhausted, Retrying
from bondflow.saga import polls
from bondflow.saga.ports import SettlementHandler

log = logging.getLogger(__name__)

EXPIRED = Settlement.DeadlineExpired
RETRY = Settlement.RetryRequested
TIMEOUT_CODE = SettlementTimeout.code
PAYMENT_REFUSED = PaymentInitiationFailed.code


def idempotency_key(sid: UUID, step: str, attempt: int) -> str:
    """One request per settlement, step and operator attempt: a redelivery reuses the key; an operator's
    retry gets a new one only after the previous key was cancelled at the provider (so never both)."""
    return str(derived_id("settlement-effect", str(sid), step, str(attempt)))


def _undone(step: str, forced_by: str | None) -> tuple[str, str]:
    """The failure code and reason when a step is cancelled at its deadline or by an operator."""
    if forced_by is not None:
        return FORCE_CANCELLED, f"{step} leg force-cancelled by operator {forced_by}"
    return TIMEOUT_CODE, f"{step} leg not final by its deadline"


class _StepWorker(EffectFollower):
    requests: ClassVar[dict[str, Any]] = {}  # step -> the event that asks for it

    def __init__(
        self, db: Database, commands: SettlementHandler, retrying: Retrying, *, poll_after: timedelta
    ) -> None:
        super().__init__(db)
        self.commands = commands
        self.retrying = retrying
        self.poll_after = poll_after
        self.step_of = {topic_of(cls): step for step, cls in self.requests.items()}
        self.topics = frozenset({*self.step_of, topic_of(EXPIRED), topic_of(RETRY)})

    def setup(self) -> None:
        super().setup()
        polls.ensure_table(self.db)

    def handle(self, event: Any) -> None:
        step = event.step if isinstance(event, EXPIRED | RETRY) else self.step_of.get(topic_of(type(event)))
        if step not in self.requests:
            return
        settlement = self.commands.get(event.originator_id)
        if settlement.terminal or not settlement.dvp or not settlement.at_step(step):
            return  # already decided (a redelivery), or a settlement from before holds
        key = self.key(settlement, step)
        try:
            if isinstance(event, EXPIRED):
                self.on_deadline(settlement, step, key, event.forced_by)
            elif isinstance(event, RETRY) and self.done_before_retry(settlement, step, event.attempt):
                return
            else:
                self.perform(settlement, step, key)
        except RetriesExhausted as exc:
            log.warning("settlement step broken", extra={"settlement_id": str(settlement.id), "step": step})
            self.commands.raise_break(settlement.id, step, f"{step} provider unavailable: {exc}")

    def poll(self, sid: UUID, step: str, key: str) -> bool:
        """The timer asks again for an outcome; True when it is known (or no longer wanted)."""
        settlement = self.commands.get(sid)
        if settlement.terminal or settlement.state is SettlementState.BROKEN or not settlement.at_step(step):
            return True
        try:
            return self.check(settlement, step, key)
        except (RetriesExhausted, CircuitOpen):
            return False  # still unknown: ask again later; the deadline decides in the end

    def schedule_poll(self, settlement: Settlement, step: str, key: str) -> None:
        polls.schedule(self.db, settlement.id, step, key, self.commands.clock.now() + self.poll_after)

    def key(self, settlement: Settlement, step: str) -> str:
        return idempotency_key(settlement.id, step, settlement.attempt)

    def done_before_retry(self, settlement: Settlement, step: str, attempt: int) -> bool:
        raise NotImplementedError

    def perform(self, settlement: Settlement, step: str, key: str) -> None:
        raise NotImplementedError

    def on_deadline(self, settlement: Settlement, step: str, key: str, forced_by: str | None) -> None:
        raise NotImplementedError

    def check(self, settlement: Settlement, step: str, key: str) -> bool:
        raise NotImplementedError
