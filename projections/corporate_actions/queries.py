"""Queries over the corporate-actions read model: a holder's coupon and redemption payments, the TDS and
corporate-action report rows, 15G/15H declarations, Form 16A-style TDS certificates per quarter, and the
token supply per ISIN."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from bondflow.adapters.postgres import Database
from bondflow.domain.ids import derived_id
from bondflow.domain.tds import financial_year_label

PAYMENT_COLUMNS = (
    "isin",
    "issuer",
    "kind",
    "payment_date",
    "units",
    "gross",
    "tds",
    "net",
    "tds_rule",
    "tds_section",
    "tds_rate_pct",
    "financial_year",
    "quarter",
)
TDS_REPORT_COLUMNS = ("user_id", *PAYMENT_COLUMNS[:2], *PAYMENT_COLUMNS[3:])
CA_REPORT_COLUMNS = (
    "isin",
    "action",
    "scheduled_on",
    "record_date",
    "payment_date",
    "amount_per_unit",
    "face_after",
    "state",
    "holders",
    "total",
)
QUARTER_MONTHS = {1: "Apr-Jun", 2: "Jul-Sep", 3: "Oct-Dec", 4: "Jan-Mar"}


def payments_of(
    db: Database, holder: str, start: date | None = None, end: date | None = None
) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        rows = cur.execute(
            f"SELECT {', '.join(PAYMENT_COLUMNS)} FROM ca_payments_view WHERE holder = %s"
            " AND payment_date >= %s AND payment_date <= %s ORDER BY payment_date, isin, kind",
            (holder, start or date.min, end or date.max),
        ).fetchall()
    return [dict(zip(PAYMENT_COLUMNS, row, strict=True)) for row in rows]


def tds_report_rows(db: Database, start: date, end: date) -> list[tuple[Any, ...]]:
    columns = ", ".join(("holder", *TDS_REPORT_COLUMNS[1:]))
    with db.cursor() as cur:
        return list(
            cur.execute(
                f"SELECT {columns} FROM ca_payments_view WHERE kind = 'coupon'"
                " AND payment_date BETWEEN %s AND %s ORDER BY payment_date, isin, holder",
                (start, end),
            ).fetchall()
        )


def corporate_action_rows(db: Database, start: date, end: date) -> list[tuple[Any, ...]]:
    columns = ", ".join(("isin", "kind", *CA_REPORT_COLUMNS[2:]))
    with db.cursor() as cur:
        return list(
            cur.execute(
                f"SELECT {columns} FROM corporate_actions_view WHERE payment_date BETWEEN %s AND %s"
                " ORDER BY payment_date, isin, kind",
                (start, end),
            ).fetchall()
        )


def declarations_of(db: Database, user_id: str) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT form, financial_year, filed_at FROM tax_declarations_view WHERE user_id = %s"
            " ORDER BY financial_year",
            (user_id,),
        ).fetchall()
    return [{"form": f, "financial_year": financial_year_label(y), "filed_at": t} for f, y, t in rows]


def tds_certificate(db: Database, user_id: str, fy: int, quarter: int) -> dict[str, Any]:
    """Form 16A-style data: per deductor (issuer) the payments credited in the quarter, TDS and totals."""
    payments = [
        p
        for p in payments_of(db, user_id)
        if p["kind"] == "coupon" and p["financial_year"] == fy and p["quarter"] == quarter
    ]
    deductors: dict[str, dict[str, Any]] = {}
    for p in payments:
        entry = deductors.setdefault(
            p["issuer"],
            {"deductor": p["issuer"], "payments": [], "amount_paid": Decimal("0.00"), "tds": Decimal("0.00")},
        )
        entry["payments"].append(
            {
                "isin": p["isin"],
                "date_of_payment": p["payment_date"],
                "amount_paid": p["gross"],
                "tds_deducted": p["tds"],
                "section": p["tds_section"],
                "rate_pct": p["tds_rate_pct"],
                "rule": p["tds_rule"],
            }
        )
        entry["amount_paid"] += p["gross"]
        entry["tds"] += p["tds"]
    label = financial_year_label(fy)
    return {
        "certificate_no": str(derived_id("form16a", user_id, str(fy), str(quarter))),
        "form": "16A (data)",
        "deductee": user_id,
        "financial_year": label,
        "assessment_year": financial_year_label(fy + 1),
        "quarter": f"Q{quarter} ({QUARTER_MONTHS[quarter]})",
        "deductors": list(deductors.values()),
        "total_amount_paid": sum((d["amount_paid"] for d in deductors.values()), Decimal("0.00")),
        "total_tds": sum((d["tds"] for d in deductors.values()), Decimal("0.00")),
    }


def token_supply(db: Database, isin: str) -> tuple[Decimal, Decimal]:
    with db.cursor() as cur:
        row = cur.execute("SELECT minted, burned FROM token_supply_view WHERE isin = %s", (isin,)).fetchone()
    return (Decimal(0), Decimal(0)) if row is None else (Decimal(row[0]), Decimal(row[1]))
