"""PDF renderings of the investor documents (contract note, statement) with fpdf2: one A4 layout, the
PDF core font (Helvetica, Latin-1: amounts are labelled INR), every figure the JSON answer carries."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

TITLE_SIZE = 15
BODY_SIZE = 9


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z")
    if isinstance(value, date | Decimal):
        return str(value)
    text = "-" if value is None else str(value)
    return text.encode("latin-1", "replace").decode("latin-1")


def _document(title: str, subtitle: str) -> FPDF:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_title(title)
    pdf.set_author("BondFlow")
    pdf.set_creation_date(datetime(2000, 1, 1))  # reproducible bytes: the content carries the dates
    pdf.add_page()
    pdf.set_font("Helvetica", "B", TITLE_SIZE)
    pdf.cell(0, 9, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", BODY_SIZE)
    pdf.cell(0, 6, _text(subtitle), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    return pdf


def _pairs(pdf: FPDF, rows: list[tuple[str, Any]]) -> None:
    for label, value in rows:
        pdf.set_font("Helvetica", "B", BODY_SIZE)
        pdf.cell(55, 6, label)
        pdf.set_font("Helvetica", "", BODY_SIZE)
        pdf.cell(0, 6, _text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _table(pdf: FPDF, heading: str, columns: list[str], rows: list[list[Any]]) -> None:
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", BODY_SIZE - 1)
    with pdf.table(text_align="LEFT", first_row_as_headings=True) as table:
        table.row(columns)
        for row in rows or [["none"] + [""] * (len(columns) - 1)]:
            table.row([_text(v) for v in row])


def contract_note_pdf(note: dict[str, Any]) -> bytes:
    pdf = _document("Contract Note", f"{note['contract_note_no']}  -  client {note['client']}")
    _pairs(
        pdf,
        [
            ("Trade date and time", note["trade_time"]),
            ("Settlement date", note["settlement_date"]),
            ("Order id", note["order_id"]),
            ("Trade id", note["trade_id"]),
            ("Security", f"{note['isin']}  {note['name']}"),
            ("Side", note["side"]),
            ("Quantity (units)", note["qty"]),
            ("Clean price (per 100)", note["clean_price"]),
            ("Principal (INR)", note["principal"]),
            ("Accrued interest (INR)", note["accrued_interest"]),
            ("Consideration (INR)", note["consideration"]),
            ("Fee (INR)", note["fee"]),
            ("Stamp duty (INR)", note["stamp_duty"]),
            ("Net amount (INR)", note["net_amount"]),
            ("Counterparty", note["counterparty"]),
        ],
    )
    return bytes(pdf.output())


def statement_pdf(stmt: dict[str, Any]) -> bytes:
    pdf = _document("Statement of Account", f"client {stmt['client']}  -  {stmt['from']} to {stmt['to']}")
    _table(
        pdf,
        "Holdings",
        ["ISIN", "Name", "Qty", "Avg clean", "Clean", "Market value INR", "Unrealised PnL INR"],
        [
            [
                h["isin"],
                h["name"],
                h["qty"],
                h["avg_clean_price"],
                h["clean_price"],
                h["market_value"],
                h["unrealized_pnl"],
            ]
            for h in stmt["holdings"]
        ],
    )
    _table(
        pdf,
        "Transactions",
        ["Date", "Type", "ISIN", "Qty", "Gross INR", "TDS INR", "Amount INR"],
        [
            [t["date"], t["type"], t["isin"], t["qty"], t.get("gross", "-"), t.get("tds", "-"), t["amount"]]
            for t in stmt["transactions"]
        ],
    )
    totals = stmt["totals"]
    pdf.ln(3)
    _pairs(
        pdf,
        [
            ("Realised PnL (FIFO) INR", totals["realized_pnl"]),
            ("Unrealised PnL INR", totals["unrealized_pnl"]),
            ("Coupons gross INR", totals["coupons_gross"]),
            ("TDS deducted INR", totals["tds"]),
            ("Coupons net INR", totals["coupons_net"]),
            ("Redemptions INR", totals["redemptions"]),
        ],
    )
    return bytes(pdf.output())
