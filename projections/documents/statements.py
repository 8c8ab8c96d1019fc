"""An investor's statement for a period from the read models: holdings at the end, transactions in the
period (settled trades, coupons with TDS, redemptions), realised PnL on FIFO lots and unrealised PnL.

FIFO (first in, first out): each settled BUY opens a lot at its clean price; a SELL, and a final
redemption (at par, 100), close the oldest lots first; realised PnL = units × face × (exit − lot clean)
/ 100, counted in the period when the disposal falls in it. Unrealised PnL = the open lots at the end of
the period valued at the reference clean price. Accrued interest is income, not PnL, and is left out of
both; coupons are listed with their gross, TDS and net. Money is rounded to the paisa once per line."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import date
from decimal import Decimal
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.domain.bonds import round_money
from projections.corporate_actions.queries import payments_of
from projections.instruments.queries import get_instrument

HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


def _settled_trades(db: Database, user_id: str, end: date) -> list[dict[str, Any]]:
    columns = ("trade_id", "isin", "side", "qty", "clean_price", "consideration", "fees", "trade_date")
    with db.cursor() as cur:
        rows = cur.execute(
            f"SELECT {', '.join(columns)} FROM trades_view WHERE user_id = %s AND settlement_state = 'SETTLED'"
            " AND trade_date <= %s ORDER BY executed_at, trade_id",
            (user_id, end),
        ).fetchall()
    return [dict(zip(columns, r, strict=True)) for r in rows]


def statement(db: Database, user_id: str, start: date, end: date) -> dict[str, Any]:
    trades = _settled_trades(db, user_id, end)
    payments = payments_of(db, user_id, None, end)
    lots: dict[str, deque[list[Decimal]]] = defaultdict(deque)  # isin → [units, clean price]
    realised: dict[str, Decimal] = defaultdict(Decimal)
    faces: dict[str, Decimal] = {}
    events = [(t["trade_date"], 0, "trade", t) for t in trades]
    events += [(p["payment_date"], 1, "payment", p) for p in payments]
    for day, _order, kind, item in sorted(events, key=lambda e: (e[0], e[1])):
        isin = item["isin"]
        face = faces.setdefault(isin, get_instrument(db, isin).face_value)
        if kind == "trade" and item["side"] == "BUY":
            lots[isin].append([Decimal(item["qty"]), Decimal(item["clean_price"])])
        elif kind == "trade" or (item["kind"] == "redemption" and _is_final(db, isin, day)):
            exit_price = Decimal(item["clean_price"]) if kind == "trade" else HUNDRED
            pnl = _close(lots[isin], Decimal(item["units"] if kind == "payment" else item["qty"]), exit_price)
            if start <= day <= end:
                realised[isin] += pnl * face / HUNDRED
    holdings, unrealised = [], ZERO
    for isin, open_lots in sorted(lots.items()):
        units = sum((lot[0] for lot in open_lots), Decimal(0))
        if units <= 0:
            continue
        bond = get_instrument(db, isin)
        cost = sum((lot[0] * lot[1] for lot in open_lots), Decimal(0))
        pnl = round_money((units * bond.reference_clean_price - cost) * bond.face_value / HUNDRED)
        unrealised += pnl
        holdings.append(
            {
                "isin": isin,
                "name": bond.name,
                "qty": units,
                "avg_clean_price": (cost / units).quantize(Decimal("0.0001")),
                "clean_price": bond.reference_clean_price,
                "market_value": round_money(units * bond.face_value * bond.reference_clean_price / HUNDRED),
                "unrealized_pnl": pnl,
            }
        )
    period_payments = [p for p in payments if start <= p["payment_date"] <= end]
    coupons = [p for p in period_payments if p["kind"] == "coupon"]
    return {
        "client": user_id,
        "from": start,
        "to": end,
        "holdings": holdings,
        "transactions": [_trade_line(t) for t in trades if start <= t["trade_date"] <= end]
        + [_payment_line(p) for p in period_payments],
        "realized_pnl": {isin: round_money(v) for isin, v in sorted(realised.items())},
        "totals": {
            "realized_pnl": round_money(sum(realised.values(), Decimal(0))),
            "unrealized_pnl": unrealised,
            "coupons_gross": sum((p["gross"] for p in coupons), ZERO),
            "tds": sum((p["tds"] for p in coupons), ZERO),
            "coupons_net": sum((p["net"] for p in coupons), ZERO),
            "redemptions": sum((p["gross"] for p in period_payments if p["kind"] == "redemption"), ZERO),
        },
        "currency": "INR",
    }


def _close(open_lots: deque[list[Decimal]], units: Decimal, exit_price: Decimal) -> Decimal:
    """Close `units` from the oldest lots; the PnL per 100 face summed over what was closed."""
    pnl = Decimal(0)
    while units > 0 and open_lots:
        lot = open_lots[0]
        taken = min(units, lot[0])
        pnl += taken * (exit_price - lot[1])
        lot[0] -= taken
        units -= taken
        if lot[0] == 0:
            open_lots.popleft()
    return pnl


def _is_final(db: Database, isin: str, day: date) -> bool:
    return _face_after(db, isin, day) == 0


def _face_after(db: Database, isin: str, day: date) -> Decimal | None:
    with db.cursor() as cur:
        row = cur.execute(
            "SELECT min(face_after) FROM corporate_actions_view WHERE isin = %s AND kind = 'redemption'"
            " AND payment_date = %s",
            (isin, day),
        ).fetchone()
    return None if row is None or row[0] is None else Decimal(row[0])


def _trade_line(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": t["trade_date"],
        "type": t["side"],
        "isin": t["isin"],
        "qty": t["qty"],
        "clean_price": t["clean_price"],
        "amount": t["consideration"],
        "fee": t["fees"],
        "reference": str(t["trade_id"]),
    }


def _payment_line(p: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": p["payment_date"],
        "type": p["kind"].upper(),
        "isin": p["isin"],
        "qty": p["units"],
        "gross": p["gross"],
        "tds": p["tds"],
        "tds_section": p["tds_section"],
        "amount": p["net"],
    }
