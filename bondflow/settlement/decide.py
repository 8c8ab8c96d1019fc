"""The saga's decisions, pure: one event (and the trade's side) in, the commands to issue out. No I/O.

Every command names its settlement; the handlers are idempotent (a settlement not in the state a command
needs records nothing), so deciding again on a redelivered event changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from bondflow.domain.settlement import PAYMENT_STEP, Settlement, cash_amount, settlement_id
from bondflow.domain.trades import Trade

EXECUTED = Trade.TradeExecuted  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class StartSettlement:
    settlement_id: UUID
    trade_id: str
    order_id: str
    user_id: str
    isin: str
    side: str
    dealer: str
    qty: Decimal
    consideration: Decimal


@dataclass(frozen=True, slots=True)
class InstructPayment:
    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class RequestTokenTransfer:
    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class RequestRefund:
    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class Refund:
    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class CompleteSettlement:
    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class FailSettlement:
    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class RaiseBreak:
    settlement_id: UUID
    step: str
    reason: str


Command = (
    StartSettlement
    | InstructPayment
    | RequestTokenTransfer
    | RequestRefund
    | Refund
    | CompleteSettlement
    | FailSettlement
    | RaiseBreak
)


def _is(event: Any, name: str) -> bool:
    return isinstance(event, getattr(Settlement, name))


def decide(event: Any, side: str) -> list[Command]:
    """What the saga does next after `event` for a trade on `side` (BUY or SELL)."""
    if isinstance(event, EXECUTED):
        return [
            StartSettlement(
                settlement_id(str(event.originator_id)),
                str(event.originator_id),
                event.order_id,
                event.user_id,
                event.isin,
                event.side,
                event.dealer,
                event.qty,
                cash_amount(event.side, event.consideration, event.fees),
            )
        ]
    sid: UUID = event.originator_id
    buy = side == "BUY"
    if _is(event, "Started"):
        return [InstructPayment(sid) if buy else RequestTokenTransfer(sid)]
    if _is(event, "PaymentConfirmed"):
        return [RequestTokenTransfer(sid) if buy else CompleteSettlement(sid)]
    if _is(event, "PaymentFailed"):
        # a BUY has moved nothing yet: undo; a SELL's tokens are with the dealer: the cash must be chased
        return [FailSettlement(sid)] if buy else [RaiseBreak(sid, PAYMENT_STEP, event.reason)]
    if _is(event, "TokenTransferred"):
        return [CompleteSettlement(sid) if buy else InstructPayment(sid)]
    if _is(event, "TokenTransferFailed"):
        return [RequestRefund(sid) if buy else FailSettlement(sid)]
    if _is(event, "RefundRequested"):
        return [Refund(sid)]
    if _is(event, "Refunded"):
        return [FailSettlement(sid)]
    return []
