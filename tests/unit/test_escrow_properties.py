"""Property: whatever sequence of deposits (confirmed, failed, mismatched), reservations, partial and total
debits, releases, credits and withdrawals runs, after every step the account's cash equals what its events
imply, no balance is ever negative, and a refused step records no event."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from bondflow.domain.escrow import EscrowAccount, PaymentMethod
from bondflow.errors import BondFlowError

WHO: dict[str, Any] = {"actor_id": "u-1", "request_id": "r"}
ZERO = Decimal("0.00")
amounts = st.integers(min_value=1, max_value=5_000_000).map(lambda paise: Decimal(paise) / 100)
references = st.sampled_from(["order-1", "order-2", "order-3"])


class Ledger:
    """Folds the recorded events, independently of the aggregate's own state."""

    def __init__(self) -> None:
        self.available = ZERO
        self.reserved: dict[str, Decimal] = {}
        self.pending = ZERO
        self.requested: dict[str, Decimal] = {}  # payment id -> amount initiated

    def apply(self, event: Any) -> None:
        name = type(event).__name__
        amount = getattr(event, "amount", None)
        if name in ("DepositInitiated", "WithdrawalRequested"):
            self.requested[event.payment_id] = amount
        if name == "PaymentConfirmed":
            self.available += self.requested[event.payment_id]
        elif name == "FundsReserved":
            self.available -= amount
            self.reserved[event.reference] = self.reserved.get(event.reference, ZERO) + amount
        elif name == "FundsReleased":
            self.available += amount
            self.reserved[event.reference] -= amount
        elif name == "FundsDebited":
            self.reserved[event.reference] -= amount
        elif name == "FundsCredited":
            self.available += amount
        elif name == "WithdrawalRequested":
            self.available -= amount
            self.pending += amount
        elif name == "WithdrawalPaid":
            self.pending -= self.requested[event.payment_id]
        elif name == "WithdrawalFailed":
            self.pending -= self.requested[event.payment_id]
            self.available += self.requested[event.payment_id]

    @property
    def total_reserved(self) -> Decimal:
        return sum(self.reserved.values(), ZERO)


class EscrowMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.account = EscrowAccount.open("u-1", **WHO)
        self.ledger = Ledger()
        self.counter = 0
        self.pending_withdrawals: list[str] = []
        self.flows = ZERO  # confirmed deposits + credits − debits − paid withdrawals
        self._record()

    def _record(self) -> list[Any]:
        events = list(self.account.collect_events())
        for event in events:
            self.ledger.apply(event)
        return events

    def _next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def _refused(self, call: Any) -> bool:
        """Run a step; a refusal must leave no event behind."""
        try:
            call()
        except BondFlowError:
            assert self._record() == []
            return True
        return False

    @rule(amount=amounts, outcome=st.sampled_from(["confirmed", "failed", "mismatch", "duplicate"]))
    def deposit(self, amount: Decimal, outcome: str) -> None:
        payment_id = self._next_id("pay")
        self.account.initiate_deposit(payment_id, amount, PaymentMethod.NEFT, request_fingerprint="fp", **WHO)
        if outcome == "failed":
            self.account.fail_payment(payment_id, "R", amount, "e", "provider reported FAILED", **WHO)
        elif outcome == "mismatch":
            self.account.confirm_payment(payment_id, "R", amount + Decimal("0.01"), "e", **WHO)
        else:
            self.account.confirm_payment(payment_id, "R", amount, "e", **WHO)
            self.flows += amount
            if outcome == "duplicate":
                assert not self.account.confirm_payment(payment_id, "R", amount, "e2", **WHO)
        self._record()

    @rule(reference=references, amount=amounts)
    def reserve(self, reference: str, amount: Decimal) -> None:
        enough = self.ledger.available >= amount
        refused = self._refused(lambda: self.account.reserve(reference, amount, **WHO))
        assert refused is not enough
        self._record()

    @rule(reference=references, share=st.sampled_from([Decimal("0.25"), Decimal("0.5"), Decimal(1)]))
    def debit(self, reference: str, share: Decimal) -> None:
        held = self.ledger.reserved.get(reference, ZERO)
        amount = (held * share).quantize(Decimal("0.01"))
        if held <= 0:
            assert self._refused(lambda: self.account.debit(reference, Decimal("0.01"), "t", **WHO))
            return
        if amount <= 0:  # a share of one paisa rounds to nothing: nothing to debit
            return
        self.account.debit(reference, amount, self._next_id("trade"), **WHO)
        self.flows -= amount
        self._record()

    @rule(reference=references, amount=st.none() | amounts)
    def release(self, reference: str, amount: Decimal | None) -> None:
        held = self.ledger.reserved.get(reference, ZERO)
        released = self.account.release(reference, amount, **WHO)
        assert released == (held if amount is None else min(amount, held))
        events = self._record()
        assert len(events) == (1 if released else 0)

    @rule(amount=amounts, repeat=st.booleans())
    def credit(self, amount: Decimal, repeat: bool) -> None:
        reference = self._next_id("credit")
        self.account.credit(reference, amount, "sale proceeds", **WHO)
        self.flows += amount
        if repeat:
            assert not self.account.credit(reference, amount, "sale proceeds", **WHO)
        self._record()

    @rule(amount=amounts)
    def withdraw(self, amount: Decimal) -> None:
        withdrawal_id = self._next_id("wdr")
        enough = self.ledger.available >= amount
        refused = self._refused(
            lambda: self.account.request_withdrawal(withdrawal_id, amount, request_fingerprint="fp", **WHO)
        )
        assert refused is not enough
        if not refused:
            self.pending_withdrawals.append(withdrawal_id)
        self._record()

    @precondition(lambda self: bool(self.pending_withdrawals))
    @rule(paid=st.booleans())
    def settle_withdrawal(self, paid: bool) -> None:
        withdrawal_id = self.pending_withdrawals.pop(0)
        amount = self.ledger.requested[withdrawal_id]
        if paid:
            self.account.confirm_payment(withdrawal_id, "R", amount, "e", **WHO)
            self.flows -= amount
        else:
            self.account.fail_payment(withdrawal_id, "R", amount, "e", "bank rejected", **WHO)
        self._record()

    @invariant()
    def cash_equals_what_the_events_imply(self) -> None:
        account, ledger = self.account, self.ledger
        assert account.available == ledger.available
        assert account.reserved == ledger.total_reserved
        assert account.pending_withdrawal == ledger.pending
        # deposits − withdrawals − debits (settled buys) + credits (sales, refunds, coupons), DOMAIN.md's cash
        # invariant, with a withdrawal leaving only once the provider paid it out
        assert account.available + account.reserved + account.pending_withdrawal == self.flows

    @invariant()
    def nothing_is_ever_negative_and_no_reservation_leaks(self) -> None:
        assert self.account.available >= 0
        assert self.account.pending_withdrawal >= 0
        assert all(v > 0 for v in self.account.reservations.values())
        assert {k: v for k, v in self.ledger.reserved.items() if v} == self.account.reservations


EscrowMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_escrow_cash_follows_its_events_after_every_step = EscrowMachine.TestCase
