"""The double-entry ledger of DOMAIN.md "The ledger": balanced journal entries over the chart of accounts.
Pure: no I/O, no clock.

Every line debits or credits one account with a positive amount of INR; an account's balance is its
debits minus its credits. `bank:escrow` (the escrow account held at the payments provider, an asset) has a
debit balance; what the platform owes (investors' cash, dealers, fees, taxes) credit balances. Amounts
round half-up to paise once, when the entry is made, and then its debits must equal its credits, so the
whole ledger always sums to zero.

One `JournalEntry` aggregate per entry, its id derived from the event that moved the money: posting the
same source event twice collides in the event store and records nothing.

Event class paths (`bondflow.domain.ledger:JournalEntry.Posted`) are stored data: never move them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.ids import derived_id

PAISE = Decimal("0.01")
ZERO = Decimal("0.00")

BANK_ESCROW = "bank:escrow"
CLEARING = "clearing"
PLATFORM_FEES = "platform:fees"
STAMP_DUTY = "tax:stamp_duty"
TDS = "tax:tds"  # withheld on coupons (the corporate-actions work posts to it)
FIXED_ACCOUNTS = (BANK_ESCROW, CLEARING, PLATFORM_FEES, STAMP_DUTY, TDS)
ACCOUNT_PATTERN = re.compile(
    r"^(bank:escrow|clearing|platform:fees|tax:stamp_duty|tax:tds"
    r"|investor:[^\s:]+:(available|reserved)|dealer:[^\s:]+|issuer:[^\s:]+)$"
)
DEBIT_NORMAL = frozenset({BANK_ESCROW})  # assets; every other account normally has a credit balance


def investor_available(user_id: str) -> str:
    return f"investor:{user_id}:available"


def investor_reserved(user_id: str) -> str:
    return f"investor:{user_id}:reserved"


def dealer_account(dealer: str) -> str:
    return f"dealer:{dealer}"


def is_account(name: str) -> bool:
    return bool(ACCOUNT_PATTERN.match(name))


def normal_balance(account: str, debit_total: Decimal, credit_total: Decimal) -> Decimal:
    """The balance on the account's normal side: debits − credits for an asset, credits − debits else."""
    debit_normal = account in DEBIT_NORMAL or account.startswith("issuer:")  # what an issuer owes us
    return debit_total - credit_total if debit_normal else credit_total - debit_total


class UnbalancedEntry(ValueError):
    """A journal entry whose debits and credits differ once rounded, or with an invalid line: a bug in
    whatever built it (never user input), so it stops the poster rather than record a wrong ledger."""

    def __init__(self, message: str, details: dict[str, str]) -> None:
        super().__init__(f"{message}: {details}")
        self.details = details


@dataclass(frozen=True, slots=True)
class Line:
    account: str
    debit: Decimal = ZERO
    credit: Decimal = ZERO

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "debit": self.debit, "credit": self.credit}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Line:
        return cls(str(raw["account"]), Decimal(raw["debit"]), Decimal(raw["credit"]))


def dr(account: str, amount: Decimal) -> Line:
    return Line(account, debit=amount)


def cr(account: str, amount: Decimal) -> Line:
    return Line(account, credit=amount)


def transfer(from_account: str, to_account: str, amount: Decimal) -> list[Line]:
    """Money moves from one account to another: the giver is debited, the receiver credited (what the
    platform owes moves; for `bank:escrow` a debit is cash in, a credit cash out)."""
    return [dr(from_account, amount), cr(to_account, amount)]


def rounded(amount: Decimal) -> Decimal:
    return amount.quantize(PAISE, rounding=ROUND_HALF_UP)


def balanced_lines(lines: Iterable[Line]) -> list[Line]:
    """The lines rounded half-up to paise, zero lines dropped; raises `UnbalancedEntry` unless every line is
    one positive debit or credit on a known account and the entry's debits equal its credits."""
    out: list[Line] = []
    for line in lines:
        debit, credit = rounded(line.debit), rounded(line.credit)
        if not is_account(line.account):
            raise UnbalancedEntry(f"unknown ledger account {line.account!r}", {"account": line.account})
        if debit < 0 or credit < 0 or (debit and credit):
            raise UnbalancedEntry("a line is one positive debit or credit", {"account": line.account})
        if debit or credit:
            out.append(Line(line.account, debit, credit))
    debits = sum((x.debit for x in out), ZERO)
    credits = sum((x.credit for x in out), ZERO)
    if not out or debits != credits:
        raise UnbalancedEntry(
            "a journal entry's debits must equal its credits",
            {"debits": str(debits), "credits": str(credits)},
        )
    return out


def journal_entry_id(source_id: UUID, source_version: int) -> UUID:
    """The entry of one source event: the same event always names the same entry."""
    return derived_id("journal-entry", str(source_id), str(source_version))


class JournalEntry(Aggregate):
    """One balanced movement of money, posted for one source event."""

    class Posted(Aggregate.Created):
        kind: str
        reference: str
        value_date: date
        source_topic: str
        source_id: UUID
        source_version: int
        memo: str
        lines: list[dict[str, Any]]
        actor_id: str
        request_id: str

    @event(Posted)
    def __init__(
        self,
        *,
        id: UUID,
        kind: str,
        reference: str,
        value_date: date,
        source_topic: str,
        source_id: UUID,
        source_version: int,
        memo: str,
        lines: list[dict[str, Any]],
        actor_id: str,
        request_id: str,
    ) -> None:
        self.kind = kind
        self.reference = reference
        self.value_date = value_date
        self.source_topic = source_topic
        self.source_id = source_id
        self.source_version = source_version
        self.memo = memo
        self.lines = [Line.from_dict(x) for x in lines]

    @classmethod
    def post(
        cls,
        *,
        kind: str,
        reference: str,
        value_date: date,
        source_topic: str,
        source_id: UUID,
        source_version: int,
        lines: Sequence[Line],
        memo: str = "",
        actor_id: str = "system:ledger",
    ) -> JournalEntry:
        return cls(
            id=journal_entry_id(source_id, source_version),
            kind=kind,
            reference=reference,
            value_date=value_date,
            source_topic=source_topic,
            source_id=source_id,
            source_version=source_version,
            memo=memo,
            lines=[x.as_dict() for x in balanced_lines(lines)],
            actor_id=actor_id,
            request_id=f"ledger:{source_id}:{source_version}",
        )
