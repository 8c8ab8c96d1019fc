"""Holdings valued server-side (clean/dirty, accrued, market value, unrealized PnL, YTM, duration) and the
coupon calendar with TDS. Money is rounded to the paisa once, here, at the edge; prices per 100 face."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from bondflow.domain.bonds import BusinessCalendar, build_schedule, round_money, round_price, round_yield
from bondflow.domain.eligibility import record_date
from projections.holdings.projector import HoldingRow
from projections.instruments.analytics import exact_figures
from projections.instruments.queries import InstrumentRow

HUNDRED = Decimal(100)
TDS_PCT_BY_CATEGORY = {"retail": Decimal(10), "hni": Decimal(10), "institutional": Decimal(0)}


def value_holding(
    holding: HoldingRow, bond: InstrumentRow, calendar: BusinessCalendar, settlement: date
) -> dict[str, Any]:
    notional = holding.qty * bond.face_value / HUNDRED  # INR per 1.00 of price per 100 face
    if settlement >= build_schedule(bond.terms, calendar).interest_end_date:  # nothing left to accrue
        figures = None
    else:
        figures = exact_figures(bond.terms, calendar, settlement, bond.reference_clean_price)
    accrued = Decimal(0) if figures is None else figures.accrued_interest
    dirty = bond.reference_clean_price + accrued
    return {
        "isin": holding.isin,
        "name": bond.name,
        "qty": holding.qty,
        "avg_clean_price": round_price(holding.avg_clean_price),
        "clean_price": round_price(bond.reference_clean_price),
        "accrued_interest": round_money(notional * accrued),
        "dirty_price": round_price(dirty),
        "market_value": round_money(notional * dirty),
        "unrealized_pnl": round_money(notional * (bond.reference_clean_price - holding.avg_clean_price)),
        "ytm": None if figures is None else round_yield(figures.ytm),
        "modified_duration": None if figures is None else round_price(figures.modified_duration),
    }


def totals(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    return {
        name: sum((Decimal(r[name]) for r in rows), Decimal(0))
        for name in ("market_value", "accrued_interest", "unrealized_pnl")
    }


def upcoming_coupons(
    holding: HoldingRow,
    bond: InstrumentRow,
    calendar: BusinessCalendar,
    today: date,
    category: str | None,
    horizon_days: int = 366,
) -> list[dict[str, Any]]:
    """Coupons paid within the horizon on the units held, with TDS by investor category (configuration)."""
    tds_pct = TDS_PCT_BY_CATEGORY.get(category or "retail", Decimal(10))
    units = holding.qty
    found = []
    for coupon in build_schedule(bond.terms, calendar).coupons:
        if today < coupon.payment_date <= today + timedelta(days=horizon_days):
            gross = round_money(units * coupon.amount)
            tds = round_money(gross * tds_pct / HUNDRED)
            found.append(
                {
                    "isin": holding.isin,
                    "record_date": record_date(coupon.payment_date, bond.record_date_days),
                    "coupon_date": coupon.accrual_end,
                    "payment_date": coupon.payment_date,
                    "units": units,
                    "gross": gross,
                    "tds_pct": tds_pct,
                    "tds": tds,
                    "net": gross - tds,
                }
            )
    return found
