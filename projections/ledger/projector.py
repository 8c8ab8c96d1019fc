"""The ledger read model in PostgreSQL: journal entries with their lines, and each account's debit and
credit totals. Rows and position commit together; an entry already applied applies nothing again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

import orjson
from eventsourcing.utils import get_topic

from bondflow.adapters.postgres import Database
from bondflow.domain.ledger import BANK_ESCROW, JournalEntry, normal_balance
from bondflow.domain.reconciliation import LedgerLine
from bondflow.runtime.followers import Positioned
from projections.base.pagination import Sort, decode_cursor, encode_cursor
from projections.base.postgres import PostgresProjector

DDL = """
CREATE TABLE IF NOT EXISTS ledger_entries (
    entry_id uuid PRIMARY KEY,
    kind text NOT NULL,
    reference text NOT NULL,
    value_date date NOT NULL,
    source_topic text NOT NULL,
    source_id uuid NOT NULL,
    source_version bigint NOT NULL,
    memo text NOT NULL,
    lines jsonb NOT NULL,
    posted_at timestamptz NOT NULL,
    position bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_entries_position ON ledger_entries (position);
CREATE TABLE IF NOT EXISTS ledger_lines (
    entry_id uuid NOT NULL,
    line_no int NOT NULL,
    account text NOT NULL,
    debit numeric(20, 2) NOT NULL,
    credit numeric(20, 2) NOT NULL,
    value_date date NOT NULL,
    reference text NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (entry_id, line_no)
);
CREATE INDEX IF NOT EXISTS ledger_lines_account ON ledger_lines (account, position);
CREATE INDEX IF NOT EXISTS ledger_lines_bank_day ON ledger_lines (value_date) WHERE account = 'bank:escrow';
CREATE TABLE IF NOT EXISTS ledger_balances (
    account text PRIMARY KEY,
    debit numeric(22, 2) NOT NULL DEFAULT 0,
    credit numeric(22, 2) NOT NULL DEFAULT 0,
    lines bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL
);
"""

POSTED: Any = JournalEntry.Posted


class LedgerProjector(PostgresProjector):
    name = "ledger_view"
    tables: ClassVar[dict[str, str]] = {
        "ledger_entries": "entry_id",
        "ledger_lines": "entry_id, line_no",
        "ledger_balances": "account",
    }
    ddl = DDL
    topics = frozenset({get_topic(POSTED)})

    def apply_batch(self, cur: Any, events: Sequence[Positioned]) -> None:
        """Three statements a batch, whatever its size: the entries (an entry already applied inserts
        nothing and is left out of what follows), their lines, and each touched account's totals once."""
        fresh: dict[Any, Positioned] = {}
        for item in events:
            fresh.setdefault(item.event.originator_id, item)
        inserted = {
            row[0]
            for row in cur.execute(
                INSERT_ENTRIES,
                [list(c) for c in zip(*(_entry(item) for item in fresh.values()), strict=True)],
            ).fetchall()
        }
        applied = [item for entry_id, item in fresh.items() if entry_id in inserted]
        if not applied:
            return
        lines = [line for item in applied for line in _lines(item)]
        cur.execute(INSERT_LINES, [list(c) for c in zip(*lines, strict=True)])
        cur.execute(ADD_TO_BALANCES, [list(c) for c in zip(*_balances(applied), strict=True)])

    def apply(self, cur: Any, event: Any, position: int) -> None:
        self.apply_batch(cur, [Positioned(event, position)])


INSERT_ENTRIES = (
    "INSERT INTO ledger_entries (entry_id, kind, reference, value_date, source_topic, source_id,"
    " source_version, memo, lines, posted_at, position)"
    " SELECT e, k, r, v, t, s, sv, m, l::jsonb, a, p FROM unnest(%b::uuid[], %b::text[], %b::text[],"
    " %b::date[], %b::text[], %b::uuid[], %b::bigint[], %b::text[], %b::text[], %b::timestamptz[],"
    " %b::bigint[]) AS x (e, k, r, v, t, s, sv, m, l, a, p)"
    " ON CONFLICT (entry_id) DO NOTHING RETURNING entry_id"
)
INSERT_LINES = (
    "INSERT INTO ledger_lines (entry_id, line_no, account, debit, credit, value_date, reference, position)"
    " SELECT * FROM unnest(%b::uuid[], %b::int[], %b::text[], %b::numeric[], %b::numeric[], %b::date[],"
    " %b::text[], %b::bigint[])"
)
ADD_TO_BALANCES = (  # one row per account: an upsert may not touch a row twice in one statement
    "INSERT INTO ledger_balances (account, debit, credit, lines, updated_at, position)"
    " SELECT * FROM unnest(%b::text[], %b::numeric[], %b::numeric[], %b::bigint[], %b::timestamptz[],"
    " %b::bigint[]) ON CONFLICT (account) DO UPDATE SET"
    " debit = ledger_balances.debit + EXCLUDED.debit,"
    " credit = ledger_balances.credit + EXCLUDED.credit,"
    " lines = ledger_balances.lines + EXCLUDED.lines, updated_at = EXCLUDED.updated_at,"
    " position = EXCLUDED.position"
)


def _entry(item: Positioned) -> tuple[Any, ...]:
    event: Any = item.event
    return (
        event.originator_id,
        event.kind,
        event.reference,
        event.value_date,
        event.source_topic,
        event.source_id,
        event.source_version,
        event.memo,
        _lines_json(event.lines),
        event.timestamp,
        item.position,
    )


def _lines(item: Positioned) -> list[tuple[Any, ...]]:
    event: Any = item.event
    return [
        (
            event.originator_id,
            number,
            line["account"],
            line["debit"],
            line["credit"],
            event.value_date,
            event.reference,
            item.position,
        )
        for number, line in enumerate(event.lines)
    ]


def _balances(applied: Sequence[Positioned]) -> list[tuple[Any, ...]]:
    """Each account's debit, credit and line count over the batch, with the time and position of the last
    entry that touched it (what applying the entries one by one leaves), accounts in a fixed order."""
    totals: dict[str, list[Any]] = {}
    for item in applied:
        event: Any = item.event
        for line in event.lines:
            total = totals.setdefault(line["account"], [Decimal(0), Decimal(0), 0, None, 0])
            total[0] += line["debit"]
            total[1] += line["credit"]
            total[2] += 1
            total[3], total[4] = event.timestamp, item.position
    return [(account, *totals[account]) for account in sorted(totals)]


def _lines_json(lines: list[dict[str, Any]]) -> str:
    return orjson.dumps(
        [{"account": x["account"], "debit": str(x["debit"]), "credit": str(x["credit"])} for x in lines]
    ).decode()


# -- queries ------------------------------------------------------------------------------------------


def accounts(db: Database, account: str | None = None) -> list[dict[str, Any]]:
    """Every account (or one) with its totals and its balance on its normal side."""
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT account, debit, credit, lines, updated_at FROM ledger_balances"
            " WHERE %s::text IS NULL OR account = %s ORDER BY account",
            (account, account),
        ).fetchall()
    return [
        {
            "account": name,
            "debit": debit,
            "credit": credit,
            "balance": normal_balance(name, debit, credit),
            "normal_side": "debit" if name == BANK_ESCROW else "credit",
            "lines": lines,
            "updated_at": updated_at,
        }
        for name, debit, credit, lines, updated_at in rows
    ]


def totals(db: Database) -> dict[str, Any]:
    """Debits and credits over the whole ledger: equal when it balances."""
    with db.cursor() as cur:
        row = cur.execute(
            "SELECT COALESCE(SUM(debit), 0), COALESCE(SUM(credit), 0) FROM ledger_balances"
        ).fetchone()
    debit, credit = (Decimal(row[0]), Decimal(row[1])) if row else (Decimal(0), Decimal(0))
    return {"debit": debit, "credit": credit, "balanced": debit == credit}


ENTRY_SORT = Sort("position", True)


def entries(
    db: Database, *, account: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Entries newest first (optionally those touching `account`), a page at a time."""
    after = int(decode_cursor(cursor, ENTRY_SORT, arity=1)[0]) if cursor else None
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT entry_id, kind, reference, value_date, memo, lines, posted_at, position, source_topic"
            " FROM ledger_entries e WHERE (%s::bigint IS NULL OR position < %s)"
            " AND (%s::text IS NULL OR EXISTS (SELECT 1 FROM ledger_lines l"
            "      WHERE l.entry_id = e.entry_id AND l.account = %s))"
            " ORDER BY position DESC, entry_id LIMIT %s",
            (after, after, account, account, limit + 1),
        ).fetchall()
    page = [
        {
            "entry_id": r[0],
            "kind": r[1],
            "reference": r[2],
            "value_date": r[3],
            "memo": r[4],
            "lines": r[5],
            "posted_at": r[6],
            "source": r[8],
        }
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return page, encode_cursor(ENTRY_SORT, [rows[limit - 1][7]]) if more else None


def bank_lines(db: Database, value_date: date) -> list[LedgerLine]:
    """The ledger's `bank:escrow` lines of a value date, in posting order."""
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT entry_id, reference, debit, credit FROM ledger_lines WHERE account = %s AND value_date = %s"
            " ORDER BY position, entry_id, line_no",
            (BANK_ESCROW, value_date),
        ).fetchall()
    return [LedgerLine(str(e), value_date, str(ref), debit, credit) for e, ref, debit, credit in rows]


def bank_balance(db: Database, as_of: date) -> Decimal:
    """`bank:escrow` per the ledger at the end of `as_of` (debit balance: what the bank should hold)."""
    with db.cursor() as cur:
        row = cur.execute(
            "SELECT COALESCE(SUM(debit - credit), 0) FROM ledger_lines WHERE account = %s AND value_date <= %s",
            (BANK_ESCROW, as_of),
        ).fetchone()
    return Decimal(row[0] if row else 0).quantize(Decimal("0.01"))
