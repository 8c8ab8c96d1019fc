"""Reconciliation of the escrow bank account: the provider's statement of a value date matched line by line
with the ledger's `bank:escrow` lines of that date. Pure: no I/O, no clock.

A bank line and a ledger line match when they carry the same provider reference, the same direction (cash
in: a bank credit, a ledger debit of `bank:escrow`; cash out the reverse) and the same amount. What stays
unmatched on either side is a break. One `Reconciliation` aggregate per value date records a
`ReconciliationCompleted` event with the counts each time a run finds a different result, so running it
again over the same statement and ledger records nothing.

Event class paths (`bondflow.domain.reconciliation:Reconciliation.…`) are stored data: never move them.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.ids import derived_id

IN = "in"
OUT = "out"


@dataclass(frozen=True, slots=True)
class BankLine:
    """One line of the provider's statement (the bank's view: a credit is cash in)."""

    value_date: date
    reference: str
    debit: Decimal
    credit: Decimal
    balance: Decimal

    @property
    def direction(self) -> str:
        return IN if self.credit > 0 else OUT

    @property
    def amount(self) -> Decimal:
        return self.credit if self.credit > 0 else self.debit


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One `bank:escrow` line of a journal entry (the ledger's view: a debit is cash in)."""

    entry_id: str
    value_date: date
    reference: str
    debit: Decimal
    credit: Decimal

    @property
    def direction(self) -> str:
        return IN if self.debit > 0 else OUT

    @property
    def amount(self) -> Decimal:
        return self.debit if self.debit > 0 else self.credit


@dataclass(frozen=True, slots=True)
class Break:
    side: str  # "bank": on the statement, not in the ledger; "ledger": the reverse
    reference: str
    direction: str
    amount: Decimal
    entry_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "reference": self.reference,
            "direction": self.direction,
            "amount": self.amount,
            "entry_id": self.entry_id,
        }


@dataclass(frozen=True)
class Matching:
    value_date: date
    statement_lines: int
    ledger_lines: int
    matched: int
    breaks: list[Break] = field(default_factory=list)

    @property
    def bank_breaks(self) -> int:
        return sum(1 for b in self.breaks if b.side == "bank")

    @property
    def ledger_breaks(self) -> int:
        return sum(1 for b in self.breaks if b.side == "ledger")

    @property
    def digest(self) -> str:
        """What a run found, in a few bytes: the same inputs always give the same digest."""
        breaks = sorted(f"{b.side}:{b.reference}:{b.direction}:{b.amount}:{b.entry_id}" for b in self.breaks)
        text = "|".join([str(self.statement_lines), str(self.ledger_lines), str(self.matched), *breaks])
        return hashlib.sha256(text.encode()).hexdigest()


def match(value_date: date, statement: list[BankLine], ledger: list[LedgerLine]) -> Matching:
    """Pair bank and ledger lines on (reference, direction, amount); the rest are breaks."""
    waiting: dict[tuple[str, str, Decimal], list[LedgerLine]] = defaultdict(list)
    for line in ledger:
        waiting[(line.reference, line.direction, line.amount)].append(line)
    matched = 0
    breaks: list[Break] = []
    for bank in statement:
        candidates = waiting.get((bank.reference, bank.direction, bank.amount))
        if candidates:
            candidates.pop(0)
            matched += 1
        else:
            breaks.append(Break("bank", bank.reference, bank.direction, bank.amount))
    for lines in waiting.values():
        breaks.extend(Break("ledger", x.reference, x.direction, x.amount, x.entry_id) for x in lines)
    return Matching(value_date, len(statement), len(ledger), matched, breaks)


def reconciliation_id(value_date: date) -> UUID:
    return derived_id("reconciliation", value_date.isoformat())


class Reconciliation(Aggregate):
    """The reconciliations of one value date of the escrow bank account."""

    class Started(Aggregate.Created):
        value_date: date
        actor_id: str
        request_id: str

    @event(Started)
    def __init__(self, *, id: UUID, value_date: date, actor_id: str, request_id: str) -> None:
        self.value_date = value_date
        self.digest: str | None = None
        self.runs = 0

    @classmethod
    def start(cls, value_date: date, *, actor_id: str, request_id: str) -> Reconciliation:
        return cls(
            id=reconciliation_id(value_date), value_date=value_date, actor_id=actor_id, request_id=request_id
        )

    def complete(self, result: Matching, *, actor_id: str, request_id: str) -> bool:
        """Record the run's result; False (nothing recorded) when it is what the last run found."""
        if result.digest == self.digest:
            return False
        self._completed(
            value_date=result.value_date,
            statement_lines=result.statement_lines,
            ledger_lines=result.ledger_lines,
            matched=result.matched,
            bank_breaks=result.bank_breaks,
            ledger_breaks=result.ledger_breaks,
            break_references=sorted(f"{b.side}:{b.reference}" for b in result.breaks),
            digest=result.digest,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class ReconciliationCompleted(Aggregate.Event):
        value_date: date
        statement_lines: int
        ledger_lines: int
        matched: int
        bank_breaks: int
        ledger_breaks: int
        break_references: list[str]
        digest: str
        actor_id: str
        request_id: str

    @event(ReconciliationCompleted)
    def _completed(
        self,
        *,
        value_date: date,
        statement_lines: int,
        ledger_lines: int,
        matched: int,
        bank_breaks: int,
        ledger_breaks: int,
        break_references: list[str],
        digest: str,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.digest = digest
        self.runs += 1
