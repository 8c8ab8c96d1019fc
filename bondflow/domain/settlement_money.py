"""What a settlement costs and what each settlement event moves, as balanced double-entry lines. Pure.

Trade costs (DOMAIN.md "The ledger"): the dealer is paid (BUY) or pays (SELL) the **gross** consideration
`qty × face × (clean + accrued) / 100`; the platform fee (`BONDFLOW_TRADING_FEE_BPS`, carried by the trade
as `fees`) goes to `platform:fees`; stamp duty, 0.0001 % of the gross consideration rounded half-up to the
paisa, is paid by the buyer. *Interpretation*: on a SELL the buyer is the dealer, who pays its own stamp
duty outside the platform, so a SELL books none (its `stamp_duty` is 0). The investor therefore pays
`gross + fee + stamp_duty` on a BUY and receives `gross − fee` on a SELL.

Accounts: `investor:<id>:available`, `investor:<id>:reserved`, `clearing`, `dealer:<id>` (payable),
`platform:fees`, `tax:stamp_duty`, `bank:escrow` (the escrow account at the payments provider). A line is
(debit account, credit account, amount): investor, clearing, dealer and tax accounts are owed by the
platform (a credit raises them), `bank:escrow` is the cash it holds (a debit raises it).

The money-moving settlement events of the DvP flow (events not listed move no money):

| Event (`Settlement.…`) | Side | Debit → credit, amount |
|---|---|---|
| `PaymentConfirmed` (with `amount`) | BUY | `investor:<id>:reserved` → `clearing`, gross + fee + stamp duty (a book entry) |
| `PaymentConfirmed` (with `amount`) | SELL | `bank:escrow` → `clearing`, gross (the dealer's payment arrived) |
| `DealerPayoutInstructed` | BUY | `clearing` → `dealer:<id>` gross, → `platform:fees` fee, → `tax:stamp_duty` stamp duty |
| `DealerPaid` | BUY | `dealer:<id>` → `bank:escrow`, gross (the payout left the bank: webhook) |
| `ProceedsCredited` | SELL | `clearing` → `investor:<id>:available` gross − fee, → `platform:fees` fee |
| `CashReturned` | BUY | `clearing` → `investor:<id>:available`, gross + fee + stamp duty (compensation) |
| `DealerRefundInstructed` | SELL | `clearing` → `dealer:<id>`, gross (compensation: owed back to the dealer) |
| `DealerRefunded` | SELL | `dealer:<id>` → `bank:escrow`, gross (the refund left the bank: webhook) |

The investor side is also recorded by the `EscrowAccount` in the same transaction: `FundsDebited`
(reference = order id, with the trade id) is the BUY `PaymentConfirmed`, `FundsCredited` with reference
`sale:<trade_id>` is `ProceedsCredited` and `return:<trade_id>` is `CashReturned`; a ledger posts one of
each pair, not both. A BUY whose stamp duty exceeds what the order still reserves first reserves the
difference from `available` (`FundsReserved`, reference = order id); reservations and releases
(`FundsReserved` / `FundsReleased`: `investor:<id>:available` ↔ `investor:<id>:reserved`) are the
escrow's own events. Settlements started before the DvP flow (`Started` without `gross`) carry no
amounts on `PaymentConfirmed` and are not described here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

PAISE = Decimal("0.01")
ZERO = Decimal("0.00")
STAMP_DUTY_RATE = Decimal("0.000001")  # 0.0001 % of the consideration (Indian Stamp Act, from 1 Jul 2020)

CLEARING = "clearing"
PLATFORM_FEES = "platform:fees"
STAMP_DUTY = "tax:stamp_duty"
BANK_ESCROW = "bank:escrow"


def half_up(amount: Decimal) -> Decimal:
    return amount.quantize(PAISE, rounding=ROUND_HALF_UP)


def investor_available(user_id: str) -> str:
    return f"investor:{user_id}:available"


def investor_reserved(user_id: str) -> str:
    return f"investor:{user_id}:reserved"


def dealer_account(dealer: str) -> str:
    return f"dealer:{dealer}"


@dataclass(frozen=True, slots=True)
class Terms:
    """A trade's money: `gross` to or from the dealer, the platform `fee`, the buyer's `stamp_duty`."""

    side: str
    gross: Decimal
    fee: Decimal
    stamp_duty: Decimal

    @property
    def investor_cash(self) -> Decimal:
        """What the investor's escrow moves: paid on a BUY, received on a SELL."""
        if self.side == "BUY":
            return self.gross + self.fee + self.stamp_duty
        return self.gross - self.fee


def terms_of(side: str, consideration: Decimal, fees: Decimal) -> Terms:
    """From a trade's `consideration` (gross + fee, as the venue records it) and its `fees`."""
    gross = consideration - fees
    stamp = half_up(gross * STAMP_DUTY_RATE) if side == "BUY" else ZERO
    return Terms(side, gross, fees, stamp)


@dataclass(frozen=True, slots=True)
class Line:
    debit: str
    credit: str
    amount: Decimal


def movements(event: Any, settlement: Any) -> list[Line]:
    """The lines `event` books for `settlement` (its `user_id` and `dealer`), zero amounts left out; none
    for events that move no money. Every line balances by construction."""
    return [line for line in _lines(event, settlement) if line.amount]


def _lines(event: Any, settlement: Any) -> list[Line]:
    name = type(event).__qualname__.rsplit(".", 1)[-1]
    user, dealer = settlement.user_id, dealer_account(settlement.dealer)
    amount = getattr(event, "amount", None)
    if name == "PaymentConfirmed" and amount is not None:
        return [Line(event.debit_account, event.credit_account, amount)]
    if name == "DealerPayoutInstructed":
        lines = [Line(CLEARING, dealer, event.amount), Line(CLEARING, PLATFORM_FEES, event.fee)]
        return [*lines, Line(CLEARING, STAMP_DUTY, event.stamp_duty)]
    if name in ("DealerPaid", "DealerRefunded"):
        return [Line(dealer, BANK_ESCROW, event.amount)]
    if name == "ProceedsCredited":
        return [
            Line(CLEARING, investor_available(user), event.amount),
            Line(CLEARING, PLATFORM_FEES, event.fee),
        ]
    if name == "CashReturned":
        return [Line(CLEARING, investor_available(user), event.amount)]
    if name == "DealerRefundInstructed":
        return [Line(CLEARING, dealer, event.amount)]
    return []
