"""The ledger read model applies a batch in three statements; what it leaves must be exactly what applying
the same entries one at a time leaves (lines, each account's totals, line count, last time and position),
and an entry met again (a redelivery, a batch that overlaps one already applied) adds nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from bondflow.adapters.postgres import Database
from bondflow.runtime.followers import Positioned
from projections.ledger.projector import LedgerProjector

pytestmark = pytest.mark.integration

ACCOUNTS = ("bank:escrow", "investor:u1:available", "investor:u2:available", "dealer:D1", "fees:platform")


def entry(n: int) -> Any:
    """A balanced entry of two or three lines over a few shared accounts."""
    amount = Decimal(100 + 7 * n) + Decimal("0.35")
    fee = Decimal(n % 3) + Decimal("0.10")
    debit_account, credit_account = ACCOUNTS[n % len(ACCOUNTS)], ACCOUNTS[(n + 2) % len(ACCOUNTS)]
    lines = [{"account": debit_account, "debit": amount + fee, "credit": Decimal(0)}]
    lines.append({"account": credit_account, "debit": Decimal(0), "credit": amount})
    lines.append({"account": "fees:platform", "debit": Decimal(0), "credit": fee})
    return SimpleNamespace(
        originator_id=uuid.UUID(int=n + 1),
        kind="settlement",
        reference=f"ref-{n}",
        value_date=date(2026, 12, 1) + timedelta(days=n % 2),
        source_topic="bondflow.domain.settlement:Settlement.BuySettled",
        source_id=uuid.UUID(int=10_000 + n),
        source_version=n + 1,
        memo=f"entry {n}",
        lines=lines,
        timestamp=datetime(2026, 12, 1, 10, 0, tzinfo=UTC) + timedelta(seconds=n),
    )


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    with db.cursor() as cur:
        return {
            table: cur.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            for table, order in LedgerProjector.tables.items()
        }


def fresh(database_url: str) -> tuple[Database, LedgerProjector]:
    db = Database(database_url, pool_size=2)
    db.open()
    projector = LedgerProjector(db)
    projector.setup()
    return db, projector


def test_a_batch_leaves_what_one_entry_at_a_time_leaves(database_url: str) -> None:
    items = [Positioned(entry(n), 10 + 3 * n) for n in range(40)]
    one_db, one = fresh(database_url)
    try:
        for item in items:
            one.process([item], item.position)
        expected = snapshot(one_db)
        one.process(items[5:9], items[8].position)  # met again: nothing changes
        assert snapshot(one_db) == expected
        with one_db.cursor() as cur:  # start over, in batches
            for table in LedgerProjector.tables:
                cur.execute(f"TRUNCATE {table}")
        one.process(items[:25], items[24].position)
        one.process(items[20:], items[-1].position)  # overlaps the first batch by five entries
        assert snapshot(one_db) == expected
        assert len(expected["ledger_lines"]) == 3 * len(items)
        debit = sum(row[1] for row in expected["ledger_balances"])
        credit = sum(row[2] for row in expected["ledger_balances"])
        assert debit == credit > 0
    finally:
        one_db.close()
