"""Which journal entry each money-moving event posts: the one place that maps source events to entries.

To post a new event, write a function `(event, facts) -> Draft | None` and add it to `POSTINGS` under the
event's stored topic; the poster follows exactly the topics listed here. Pure: the facts an event does not
carry (whose escrow account, a settlement's side and dealer) come from `Facts`.

Current mapping (amounts in INR; "A → B" debits A and credits B):
- deposit confirmed (`EscrowAccount.PaymentConfirmed`): bank:escrow → investor available (cash in);
- withdrawal requested: investor available → clearing (the payout is in flight);
- withdrawal paid: clearing → bank:escrow (cash out); withdrawal failed: clearing → investor available;
- funds reserved: available → reserved; released: reserved → available;
- DvP settlements (`Started` with `gross`): each money-moving `Settlement` event posts the lines of
  `bondflow.domain.settlement_money.movements` (its table: the BUY's cash into clearing, the dealer
  payable with the platform fee and stamp duty, the payout out of the bank, the SELL's dealer payment
  into the bank, the proceeds less fees, the compensations). Their escrow twins (`FundsDebited`, and
  `FundsCredited` `sale:` / `return:` of the same trade) post nothing: one entry per movement;
- settlements from before DvP: funds debited (the BUY's consideration): reserved → clearing; funds
  credited (sale proceeds, refunds): clearing → available; payment confirmed: BUY (dealer paid):
  clearing → dealer, dealer → bank:escrow; SELL (dealer's payment in): bank:escrow → dealer → clearing;
- any other funds credited (coupons, redemptions): clearing → available;
- coupon paid (`CorporateAction.CouponPaid`): issuer → clearing (net) and issuer → tax:tds (TDS), the
  issuer's paying agent owing the gross; the escrow credit that goes with it (`FundsCredited`, reason
  "coupon net of TDS") then moves clearing → investor available as any credit;
- redemption paid (`CorporateAction.Redeemed`): issuer → clearing (principal), then likewise credited.
Nothing else moves money: holds, token legs and failures without a cash step post nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.utils import get_topic

from bondflow.domain import ledger as L
from bondflow.domain.corporate_actions import CorporateAction
from bondflow.domain.escrow import EscrowAccount
from bondflow.domain.ledger import Line
from bondflow.domain.settlement import Settlement
from bondflow.domain.settlement_money import movements


@dataclass(frozen=True, slots=True)
class Draft:
    """What an entry will say; the poster adds the source, the value date and the id."""

    kind: str
    reference: str  # the provider's reference for cash in or out of the bank (what reconciliation matches)
    lines: list[Line]
    memo: str = ""


@dataclass(frozen=True, slots=True)
class SettlementFacts:
    trade_id: str
    user_id: str
    side: str
    dealer: str
    cash_amount: Decimal  # what the settlement's cash leg moves
    dvp: bool = False  # started with holds: its own events carry the money (settlement_money)


class Facts(Protocol):
    def owner_of_escrow(self, account_id: UUID) -> str: ...

    def payment_amount(self, account_id: UUID, payment_id: str, before_version: int) -> Decimal: ...

    def settlement(self, settlement_id: UUID) -> SettlementFacts: ...

    def is_dvp_trade(self, trade_id: str) -> bool: ...


Posting = Callable[[Any, Facts], Draft | None]


def _investor(facts: Facts, event: Any) -> tuple[str, str]:
    user = facts.owner_of_escrow(event.originator_id)
    return L.investor_available(user), L.investor_reserved(user)


def deposit_confirmed(event: Any, facts: Facts) -> Draft:
    available, _ = _investor(facts, event)
    lines = L.transfer(L.BANK_ESCROW, available, event.amount)
    return Draft("deposit", event.reference or event.payment_id, lines, f"deposit {event.payment_id}")


def withdrawal_requested(event: Any, facts: Facts) -> Draft:
    available, _ = _investor(facts, event)
    lines = L.transfer(available, L.CLEARING, event.amount)
    return Draft("withdrawal_requested", event.payment_id, lines, f"withdrawal {event.payment_id}")


def withdrawal_paid(event: Any, facts: Facts) -> Draft:
    lines = L.transfer(L.CLEARING, L.BANK_ESCROW, event.amount)  # a paid withdrawal carries its own amount
    return Draft("withdrawal", event.reference or event.payment_id, lines, f"withdrawal {event.payment_id}")


def withdrawal_failed(event: Any, facts: Facts) -> Draft:
    available, _ = _investor(facts, event)
    # a failure may carry the amount the provider reported: the withdrawal's own amount returns
    amount = facts.payment_amount(event.originator_id, event.payment_id, event.originator_version)
    lines = L.transfer(L.CLEARING, available, amount)
    return Draft("withdrawal_failed", event.payment_id, lines, f"withdrawal {event.payment_id} failed")


def funds_reserved(event: Any, facts: Facts) -> Draft:
    available, reserved = _investor(facts, event)
    return Draft("reserve", event.reference, L.transfer(available, reserved, event.amount))


def funds_released(event: Any, facts: Facts) -> Draft:
    available, reserved = _investor(facts, event)
    return Draft("release", event.reference, L.transfer(reserved, available, event.amount))


def funds_debited(event: Any, facts: Facts) -> Draft | None:
    if facts.is_dvp_trade(event.trade_id):
        return None  # the settlement's PaymentConfirmed posts it
    _, reserved = _investor(facts, event)
    lines = L.transfer(reserved, L.CLEARING, event.amount)
    return Draft("trade_debit", event.trade_id, lines, f"order {event.reference}")


def funds_credited(event: Any, facts: Facts) -> Draft | None:
    kind, _, trade_id = str(event.reference).partition(":")
    if kind in TRADE_CREDITS and facts.is_dvp_trade(trade_id):
        return None  # the settlement's ProceedsCredited / CashReturned posts it
    available, _ = _investor(facts, event)
    return Draft("credit", event.reference, L.transfer(L.CLEARING, available, event.amount), event.reason)


def settlement_payment_confirmed(event: Any, facts: Facts) -> Draft | None:
    s = facts.settlement(event.originator_id)
    if s.dvp:
        return settlement_movement(event, facts)
    dealer = L.dealer_account(s.dealer)
    if s.side == "BUY":  # owed to the dealer, then paid out of the bank
        lines = [
            *L.transfer(L.CLEARING, dealer, s.cash_amount),
            *L.transfer(dealer, L.BANK_ESCROW, s.cash_amount),
        ]
        return Draft("dealer_payout", event.reference, lines, f"trade {s.trade_id}")
    lines = [
        *L.transfer(L.BANK_ESCROW, dealer, s.cash_amount),
        *L.transfer(dealer, L.CLEARING, s.cash_amount),
    ]
    return Draft("dealer_receipt", event.reference, lines, f"trade {s.trade_id}")


DVP_KINDS = {
    "PaymentConfirmed": "trade_clearing",  # BUY: reserved → clearing; SELL: the dealer's cash in the bank
    "DealerPayoutInstructed": "dealer_payable",
    "DealerPaid": "dealer_payout",
    "ProceedsCredited": "proceeds",
    "CashReturned": "cash_returned",
    "DealerRefundInstructed": "dealer_refund_payable",
    "DealerRefunded": "dealer_refund",
}
TRADE_CREDITS = frozenset({"sale", "return"})


def settlement_movement(event: Any, facts: Facts) -> Draft | None:
    """A DvP settlement event: the lines `settlement_money.movements` gives it."""
    s = facts.settlement(event.originator_id)
    lines = [x for m in movements(event, s) for x in L.transfer(m.debit, m.credit, m.amount)]
    if not lines:
        return None
    name = type(event).__qualname__.rsplit(".", 1)[-1]
    kind = DVP_KINDS[name]
    if name == "PaymentConfirmed" and s.side == "SELL":
        kind = "dealer_receipt"
    return Draft(kind, str(getattr(event, "reference", None) or s.trade_id), lines, f"trade {s.trade_id}")


def coupon_paid(event: Any, facts: Facts) -> Draft:
    lines = L.transfer(event.debit_account, L.CLEARING, event.net)
    if event.tds:
        lines += L.transfer(event.debit_account, L.TDS, event.tds)
    memo = f"coupon {event.isin} {event.tds_rule} {event.tds_rate_pct}%"
    return Draft("coupon", event.credit_reference, lines, memo)


def redeemed(event: Any, facts: Facts) -> Draft:
    lines = L.transfer(event.debit_account, L.CLEARING, event.amount)
    return Draft("redemption", event.credit_reference, lines, f"redemption {event.isin}")


E: Any = EscrowAccount
S: Any = Settlement
CA: Any = CorporateAction
POSTINGS: dict[str, Posting] = {
    get_topic(E.PaymentConfirmed): deposit_confirmed,
    get_topic(E.WithdrawalRequested): withdrawal_requested,
    get_topic(E.WithdrawalPaid): withdrawal_paid,
    get_topic(E.WithdrawalFailed): withdrawal_failed,
    get_topic(E.FundsReserved): funds_reserved,
    get_topic(E.FundsReleased): funds_released,
    get_topic(E.FundsDebited): funds_debited,
    get_topic(E.FundsCredited): funds_credited,
    get_topic(S.PaymentConfirmed): settlement_payment_confirmed,
    **{
        f"{S.__module__}:Settlement.{name}": settlement_movement
        for name in DVP_KINDS
        if name != "PaymentConfirmed"
    },
    get_topic(CA.CouponPaid): coupon_paid,
    get_topic(CA.Redeemed): redeemed,
}


def draft_for(event: Any, facts: Facts) -> Draft | None:
    posting = POSTINGS.get(get_topic(type(event)))
    return None if posting is None else posting(event, facts)
