"""The bank side of the escrow account, kept by the sandbox providers as a real bank would: its own record
of every payment in and out (deposits, withdrawals, dealer payouts and dealer receipts) in PostgreSQL,
and the daily statement it would send (CSV: value date, reference, debit, credit, balance).

It stands for the outside world, so it knows nothing of the ledger: reconciliation compares the two. The
sandboxes book a line when the provider actually moves the money; a line is unique per provider
reference, so a provider that repeats itself books once. Value dates are the bank's (Indian) dates.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.domain.reconciliation import BankLine
from bondflow.runtime.clock import IST, Clock

ZERO = Decimal("0.00")
DDL = """
CREATE TABLE IF NOT EXISTS sandbox_bank_lines (
    line_no bigserial PRIMARY KEY,
    reference text NOT NULL UNIQUE,
    value_date date NOT NULL,
    debit numeric(20, 2) NOT NULL DEFAULT 0,
    credit numeric(20, 2) NOT NULL DEFAULT 0,
    narrative text NOT NULL,
    booked_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS sandbox_bank_lines_date ON sandbox_bank_lines (value_date, line_no);
"""
CSV_COLUMNS = ("value_date", "reference", "debit", "credit", "balance")


class EscrowBank:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def setup(self) -> None:
        self.db.create_tables("sandbox_bank_lines", DDL)

    def book(
        self, reference: str, amount: Decimal, *, cash_in: bool, narrative: str, cur: Any = None
    ) -> None:
        """Money arrived in (`cash_in`) or left the escrow account; inside the caller's transaction if
        `cur` is given. A reference already booked books nothing."""
        if cur is None:
            with self.db.transaction() as own:
                self._insert(own, reference, amount, cash_in, narrative)
        else:
            self._insert(cur, reference, amount, cash_in, narrative)

    def _insert(self, cur: Any, reference: str, amount: Decimal, cash_in: bool, narrative: str) -> None:
        now = self.clock.now()
        cur.execute(
            "INSERT INTO sandbox_bank_lines (reference, value_date, debit, credit, narrative, booked_at)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (reference) DO NOTHING",
            (
                reference,
                now.astimezone(IST).date(),
                ZERO if cash_in else amount,
                amount if cash_in else ZERO,
                narrative,
                now,
            ),
        )

    def balance(self, as_of: date | None = None) -> Decimal:
        """What the account holds at the end of `as_of` (or now)."""
        with self.db.cursor() as cur:
            row = cur.execute(
                "SELECT COALESCE(SUM(credit - debit), 0) FROM sandbox_bank_lines"
                " WHERE %s::date IS NULL OR value_date <= %s",
                (as_of, as_of),
            ).fetchone()
        return Decimal(row[0]).quantize(ZERO) if row else ZERO

    def statement(self, value_date: date) -> list[BankLine]:
        """The day's lines in booking order, each with the running balance after it."""
        with self.db.cursor() as cur:
            opening_row = cur.execute(
                "SELECT COALESCE(SUM(credit - debit), 0) FROM sandbox_bank_lines WHERE value_date < %s",
                (value_date,),
            ).fetchone()
            rows = cur.execute(
                "SELECT reference, debit, credit FROM sandbox_bank_lines WHERE value_date = %s ORDER BY line_no",
                (value_date,),
            ).fetchall()
        balance = Decimal(opening_row[0] if opening_row else 0)
        lines = []
        for reference, debit, credit in rows:
            balance += credit - debit
            lines.append(BankLine(value_date, str(reference), debit, credit, balance.quantize(ZERO)))
        return lines

    def statement_csv(self, value_date: date) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for line in self.statement(value_date):
            writer.writerow(
                (line.value_date.isoformat(), line.reference, line.debit, line.credit, line.balance)
            )
        return out.getvalue()


def parse_statement_csv(text: str) -> list[BankLine]:
    """Read a statement in the CSV above (what a real bank's file would be turned into)."""
    rows = csv.DictReader(io.StringIO(text))
    return [
        BankLine(
            date.fromisoformat(r["value_date"]),
            r["reference"],
            Decimal(r["debit"]),
            Decimal(r["credit"]),
            Decimal(r["balance"]),
        )
        for r in rows
    ]
