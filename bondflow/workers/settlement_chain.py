"""The chain leg of a DvP settlement: holds, their execution (the token transfer) and release, submitted
and then confirmed by finality polls on the timer (`bondflow.workers.settlement` holds the shared step logic)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar
from uuid import UUID

from bondflow.adapters import chain_port
from bondflow.adapters.chain_port import ChainBridge, HoldStatus
from bondflow.adapters.postgres import Database
from bondflow.domain.settlement import (
    HOLD_STEP,
    RELEASE_STEP,
    TOKEN_STEP,
    Settlement,
)
from bondflow.errors import CHAIN_REJECTED
from bondflow.runtime.resilience import Retrying
from bondflow.saga.ports import SettlementHandler
from bondflow.workers.settlement import (
    _StepWorker,
    _undone,
    idempotency_key,
    log,
)


class ChainLegWorker(_StepWorker):
    """Places the hold, executes it (the token transfer, final later: polled) and releases it."""

    name = "settlement_chain"
    requests: ClassVar[dict[str, Any]] = {
        HOLD_STEP: Settlement.HoldRequested,
        TOKEN_STEP: Settlement.TokenTransferRequested,
        RELEASE_STEP: Settlement.HoldReleaseRequested,
    }

    def __init__(
        self,
        db: Database,
        commands: SettlementHandler,
        retrying: Retrying,
        chain: ChainBridge,
        *,
        poll_after: timedelta = timedelta(milliseconds=20),
    ) -> None:
        super().__init__(db, commands, retrying, poll_after=poll_after)
        self.chain = chain

    def key(self, settlement: Settlement, step: str) -> str:
        """The hold is placed under the step's key; executing and releasing address the hold."""
        if step != HOLD_STEP and settlement.hold_id:
            return settlement.hold_id
        return super().key(settlement, step)

    def perform(self, s: Settlement, step: str, key: str) -> None:
        if step == HOLD_STEP:
            expires = max(s.hold_expires_at, self.commands.clock.now() + self.commands.hold_lifetime)
            held = self.retrying.call(
                lambda: self.chain.hold(s.isin, s.token_from, s.token_to, s.qty, expires, key)
            )
            self._report_hold(s.id, held, key)
        elif step == TOKEN_STEP:
            executed = self.retrying.call(lambda: self.chain.execute_hold(key))
            if not self._report_transfer(s.id, executed, key, CHAIN_REJECTED):
                self.schedule_poll(s, step, key)
        else:
            self._report_release(s, self.retrying.call(lambda: self.chain.release_hold(key)), key)

    def on_deadline(self, s: Settlement, step: str, key: str, forced_by: str | None) -> None:
        if step == RELEASE_STEP:  # nothing to undo: releasing again is the way forward
            self.perform(s, step, key)
            return
        released = self.retrying.call(lambda: self.chain.release_hold(key))
        code, reason = _undone(step, forced_by)
        if step == HOLD_STEP:
            self.commands.report(s.id, "fail_hold", key, code=code, reason=reason, at_deadline=True)
        else:
            self._report_transfer(s.id, released, key, code, reason, at_deadline=True)

    def check(self, s: Settlement, step: str, key: str) -> bool:
        status = self.retrying.call(lambda: self.chain.hold_status(key))
        return status is not None and self._report_transfer(s.id, status, key, CHAIN_REJECTED)

    def done_before_retry(self, s: Settlement, step: str, attempt: int) -> bool:
        """A retried hold: the previous attempt's hold, if in fact placed, is the hold; else it is released
        for good. Executing and releasing are idempotent per hold: nothing to cancel."""
        if step != HOLD_STEP:
            return False
        previous = idempotency_key(s.id, step, attempt - 1)
        status = self.retrying.call(lambda: self.chain.hold_status(previous))
        if status is not None and status.status == chain_port.HELD:
            self.commands.report(s.id, "hold_placed", previous, hold_id=previous)
            return True
        self.retrying.call(lambda: self.chain.release_hold(previous))
        return False

    def _report_hold(self, sid: UUID, status: HoldStatus, key: str) -> None:
        if status.status == chain_port.HELD:
            self.commands.report(sid, "hold_placed", key, hold_id=status.hold_id)
        else:
            reason = status.reason or "hold could not be placed"
            self.commands.report(sid, "fail_hold", key, code=CHAIN_REJECTED, reason=reason)

    def _report_transfer(
        self,
        sid: UUID,
        status: HoldStatus,
        key: str,
        code: str,
        reason: str | None = None,
        *,
        at_deadline: bool = False,
    ) -> bool:
        """Report a final or failed execution; False while it is pending. A failure observed by a poll or a
        submission after the step's deadline was recorded is the deadline's own release: the domain ignores
        it unless it is the deadline handler's report (`at_deadline`)."""
        if status.status == chain_port.FINAL:
            self.commands.token_transferred(sid, status.tx_hash or "", key)
        elif status.status in (chain_port.FAILED, chain_port.RELEASED):
            failure = reason or status.reason or "token transfer failed"
            self.commands.report(
                sid,
                "fail_token_transfer",
                key,
                code=code,
                reason=failure,
                tx_hash=status.tx_hash,
                at_deadline=at_deadline,
            )
        else:
            return False
        return True

    def _report_release(self, s: Settlement, status: HoldStatus, key: str) -> None:
        if status.status == chain_port.FINAL:  # cannot happen: a hold is released only before execution
            log.error("a hold to release was executed", extra={"settlement_id": str(s.id)})
            self.commands.raise_break(s.id, RELEASE_STEP, "the hold to release was executed")
            return
        self.commands.report(s.id, "hold_released", key)
