"""The saga's decisions, pure: one event (and the trade's side) in, the commands to issue out. No I/O.

Every command names its settlement; the handlers are idempotent (a settlement not in the state a command
needs records nothing), so deciding again on a redelivered event changes nothing. The steps that call a
provider (hold, token, payment, payout, refund, release) are started here and carried out by the effect
workers; the book entries (cash into clearing, proceeds, cash returned) are done by the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from bondflow.domain.settlement import Settlement, settlement_id
from bondflow.domain.settlement_money import Terms, terms_of
from bondflow.domain.trades import Trade

EXECUTED = Trade.TradeExecuted


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
    terms: Terms


@dataclass(frozen=True, slots=True)
class RequestHold:
    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class ClearInvestorCash:
    """BUY: the consideration moves from the investor's escrow to clearing."""

    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class InstructPayment:
    """SELL: ask the dealer to pay into clearing."""

    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class RequestTokenTransfer:
    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class InstructPayout:
    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class ReleaseHold:
    settlement_id: UUID


@dataclass(frozen=True, slots=True)
class InstructRefund:
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
    | RequestHold
    | ClearInvestorCash
    | InstructPayment
    | RequestTokenTransfer
    | InstructPayout
    | ReleaseHold
    | InstructRefund
    | CompleteSettlement
    | FailSettlement
    | RaiseBreak
)

NEXT: dict[str, tuple[type[Any], type[Any]]] = {  # event -> (BUY command, SELL command)
    "Started": (RequestHold, RequestHold),
    "HoldPlaced": (ClearInvestorCash, InstructPayment),
    "HoldFailed": (FailSettlement, FailSettlement),
    "PaymentConfirmed": (RequestTokenTransfer, RequestTokenTransfer),
    "PaymentFailed": (ReleaseHold, ReleaseHold),
    "HoldReleased": (FailSettlement, FailSettlement),
    "TokenTransferred": (InstructPayout, CompleteSettlement),
    "TokenTransferFailed": (FailSettlement, InstructRefund),
    "DealerPaid": (CompleteSettlement, CompleteSettlement),
    "DealerRefunded": (FailSettlement, FailSettlement),
}


def start_command(event: Any) -> StartSettlement:
    trade_id = str(event.originator_id)
    return StartSettlement(
        settlement_id(trade_id),
        trade_id,
        event.order_id,
        event.user_id,
        event.isin,
        event.side,
        event.dealer,
        event.qty,
        terms_of(event.side, event.consideration, event.fees),
    )


def decide(event: Any, side: str) -> list[Command]:
    """What the saga does next after `event` for a trade on `side` (BUY or SELL)."""
    if isinstance(event, EXECUTED):
        return [start_command(event)]
    name = type(event).__qualname__.rsplit(".", 1)[-1]
    commands = NEXT.get(name)
    if commands is None or not isinstance(event, getattr(Settlement, name)):
        return []
    command: Command = commands[0 if side == "BUY" else 1](event.originator_id)
    return [command]
