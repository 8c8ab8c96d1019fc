"""A trade's contract note from the read models: trade date and time, settlement date, ISIN and name,
quantity, clean price, accrued interest, consideration, fee, stamp duty, counterparty and order id.

Amounts (INR, half up to the paisa): principal = qty × face × clean / 100; accrued = qty × face × accrued
per 100 / 100; fee = the platform fee recorded on the trade; stamp duty = 0.0001% of the consideration,
paid by the buyer (Indian Stamp Act, DOMAIN.md "The ledger"); net amount = principal + accrued + fee +
stamp duty for a BUY, principal + accrued − fee for a SELL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from bondflow.adapters.postgres import Database
from bondflow.domain.bonds import round_money
from bondflow.errors import NotFound
from projections.instruments.queries import get_instrument

HUNDRED = Decimal(100)
STAMP_DUTY_RATE = Decimal("0.000001")  # 0.0001 %


def contract_note(db: Database, user_id: str, trade_id: str) -> dict[str, Any]:
    """The caller's own trade only (another user's trade is not found, as API.md requires)."""
    try:
        key = UUID(trade_id)
    except ValueError:
        raise NotFound("trade not found", {"trade_id": trade_id}) from None
    with db.cursor() as cur:
        row = cur.execute(
            "SELECT trade_id, order_id, isin, side, dealer, qty, clean_price, accrued_per_100, fees, trade_date,"
            " settlement_date, settlement_state, executed_at FROM trades_view WHERE trade_id = %s AND user_id = %s",
            (key, user_id),
        ).fetchone()
    if row is None:
        raise NotFound("trade not found", {"trade_id": trade_id})
    (tid, order_id, isin, side, dealer, qty, clean, accrued_per_100, fees, trade_date, settles, state, at) = (
        row
    )
    bond = get_instrument(db, isin)
    principal = round_money(qty * bond.face_value * clean / HUNDRED)
    accrued = round_money(qty * bond.face_value * accrued_per_100 / HUNDRED)
    consideration = principal + accrued
    stamp = round_money(consideration * STAMP_DUTY_RATE) if side == "BUY" else Decimal("0.00")
    net = consideration + fees + stamp if side == "BUY" else consideration - fees
    return {
        "contract_note_no": f"CN-{trade_date:%Y%m%d}-{str(tid)[:8].upper()}",
        "trade_id": str(tid),
        "order_id": str(order_id),
        "client": user_id,
        "trade_time": at,
        "trade_date": trade_date,
        "settlement_date": settles,
        "settlement_state": state,
        "isin": isin,
        "name": bond.name,
        "issuer": bond.issuer,
        "side": side,
        "qty": qty,
        "face_value": bond.face_value,
        "clean_price": clean,
        "accrued_interest": accrued,
        "principal": principal,
        "consideration": consideration,
        "fee": fees,
        "stamp_duty": stamp,
        "net_amount": net,
        "counterparty": f"dealer:{dealer}",
        "currency": "INR",
    }
