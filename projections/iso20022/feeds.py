"""ISO 20022 feeds from the read models (which are built from the log): which facts go into which
message, for a period. Each function answers `(document id, XML bytes)` pairs.

- sese.023 / sese.025: every trade of the period (trade date), instruction and, once settled, confirmation;
- semt.002: per investor, holdings settled by the end of `to` (trades less final redemptions);
- seev.036: every coupon and redemption paid in the period, per holder;
- camt.053: per day of the period with cash movements, one statement per investor escrow: confirmed
  deposits (+) and withdrawals (−), settled buys (−) and sells (+), coupons net of TDS and redemptions (+).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.runtime.clock import IST
from projections.iso20022 import messages as iso

MESSAGES = ("sese.023", "sese.025", "semt.002", "seev.036", "camt.053")
MAX_DOCUMENTS = 5000


def _trades(db: Database, start: date, end: date, settled_only: bool) -> list[dict[str, Any]]:
    columns = ("trade_id", "user_id", "isin", "side", "qty", "consideration", "trade_date", "settlement_date")
    state = " AND t.settlement_state = 'SETTLED'" if settled_only else ""
    with db.cursor() as cur:
        rows = cur.execute(
            f"SELECT {', '.join('t.' + c for c in columns)}, i.name, i.face_value FROM trades_view t"
            f" JOIN instruments_view i USING (isin) WHERE t.trade_date BETWEEN %s AND %s{state}"
            " ORDER BY t.executed_at, t.trade_id LIMIT %s",
            (start, end, MAX_DOCUMENTS),
        ).fetchall()
    return [
        {**dict(zip(columns, r[:8], strict=True)), "trade_id": str(r[0]), "name": r[8], "face_value": r[9]}
        for r in rows
    ]


def instructions(db: Database, start: date, end: date) -> list[tuple[str, bytes]]:
    return [(t["trade_id"], iso.settlement_instruction(t)) for t in _trades(db, start, end, False)]


def confirmations(db: Database, start: date, end: date) -> list[tuple[str, bytes]]:
    return [(t["trade_id"], iso.settlement_confirmation(t)) for t in _trades(db, start, end, True)]


def holdings_statements(db: Database, start: date, end: date) -> list[tuple[str, bytes]]:
    units: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    names: dict[str, tuple[str, Decimal]] = {}
    for t in _trades(db, date.min, end, True):
        units[t["user_id"]][t["isin"]] += t["qty"] if t["side"] == "BUY" else -t["qty"]
        names[t["isin"]] = (t["name"], t["face_value"])
    with db.cursor() as cur:
        redeemed = cur.execute(
            "SELECT p.holder, p.isin, p.units FROM ca_payments_view p JOIN corporate_actions_view a USING (action_id)"
            " WHERE p.kind = 'redemption' AND a.face_after = 0 AND p.payment_date <= %s",
            (end,),
        ).fetchall()
    for holder, isin, qty in redeemed:
        units[holder][isin] -= qty
    created = datetime.combine(end, time(23, 59, 59), IST).astimezone(UTC)
    documents = []
    for user_id, by_isin in sorted(units.items()):
        rows = [
            {"isin": isin, "name": names[isin][0], "face_value": names[isin][1], "qty": qty}
            for isin, qty in sorted(by_isin.items())
            if qty > 0
        ]
        documents.append((f"{user_id}:{end}", iso.holdings_statement(user_id, end, rows, created)))
    return documents


def corporate_action_confirmations(db: Database, start: date, end: date) -> list[tuple[str, bytes]]:
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT p.action_id, p.holder, p.isin, p.kind, p.payment_date, p.units, p.gross, p.tds, p.net,"
            " i.face_value, a.scheduled_on FROM ca_payments_view p JOIN corporate_actions_view a USING (action_id)"
            " JOIN instruments_view i ON i.isin = p.isin WHERE p.payment_date BETWEEN %s AND %s"
            " ORDER BY p.payment_date, p.isin, p.holder LIMIT %s",
            (start, end, MAX_DOCUMENTS),
        ).fetchall()
    documents = []
    for action_id, holder, isin, kind, paid_on, units, gross, tds, net, face, scheduled_on in rows:
        payment = {
            "event_id": f"{'INTR' if kind == 'coupon' else 'REDM'}-{isin}-{scheduled_on:%Y%m%d}",
            "kind": kind,
            "isin": isin,
            "holder": holder,
            "units": units,
            "face_value": face,
            "gross": gross,
            "tds": tds,
            "net": net,
            "payment_date": paid_on,
        }
        documents.append((f"{action_id}:{holder}", iso.corporate_action_confirmation(payment)))
    return documents


def cash_statements(db: Database, start: date, end: date) -> list[tuple[str, bytes]]:
    movements = _cash_movements(db, end)
    documents: list[tuple[str, bytes]] = []
    day = start
    while day <= end and len(documents) < MAX_DOCUMENTS:
        todays = [m for m in movements if m["day"] == day]
        if todays:
            accounts = []
            for user_id in sorted({m["user_id"] for m in todays}):
                mine = [m for m in movements if m["user_id"] == user_id]
                opening = sum((m["amount"] for m in mine if m["day"] < day), Decimal(0))
                entries = [m for m in mine if m["day"] == day]
                closing = opening + sum((m["amount"] for m in entries), Decimal(0))
                accounts.append(
                    {"user_id": user_id, "opening": opening, "closing": closing, "entries": entries}
                )
            created = datetime.combine(day, time(23, 59, 59), IST).astimezone(UTC)
            documents.append((str(day), iso.cash_statement(day, accounts, created)))
        day += timedelta(days=1)
    return documents


def _cash_movements(db: Database, end: date) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        payments = cur.execute(
            "SELECT user_id, payment_id, kind, amount, (updated_at AT TIME ZONE 'Asia/Kolkata')::date"
            " FROM payments_view WHERE status = 'CONFIRMED'"
        ).fetchall()
        corporate = cur.execute(
            "SELECT holder, action_id, kind, net, payment_date FROM ca_payments_view WHERE payment_date <= %s",
            (end,),
        ).fetchall()
    found = [
        {
            "user_id": user_id,
            "reference": payment_id,
            "amount": amount if kind == "DEPOSIT" else -amount,
            "day": day,
            "code": kind,
            "description": f"{kind.lower()} {payment_id}",
        }
        for user_id, payment_id, kind, amount, day in payments
    ]
    for t in _trades(db, date.min, end, True):
        found.append(
            {
                "user_id": t["user_id"],
                "reference": t["trade_id"].replace("-", "")[:35],
                "amount": -t["consideration"] if t["side"] == "BUY" else t["consideration"],
                "day": t["trade_date"],
                "code": f"TRADE-{t['side']}",
                "description": f"{t['side']} {t['qty']} {t['isin']}",
            }
        )
    for holder, action_id, kind, net, day in corporate:
        found.append(
            {
                "user_id": holder,
                "reference": str(action_id).replace("-", "")[:35],
                "amount": net,
                "day": day,
                "code": "COUPON" if kind == "coupon" else "REDEMPTION",
                "description": f"{kind} net of TDS" if kind == "coupon" else "redemption principal",
            }
        )
    return [m for m in found if m["day"] <= end]


FEEDS = {
    "sese.023": instructions,
    "sese.025": confirmations,
    "semt.002": holdings_statements,
    "seev.036": corporate_action_confirmations,
    "camt.053": cash_statements,
}
