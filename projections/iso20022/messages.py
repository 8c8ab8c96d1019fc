"""ISO 20022 messages built from plain facts (dicts read from the read models), one `Document` each:

- `sese.023.002.11` settlement instruction and `sese.025.001.13` settlement confirmation, per settlement;
- `semt.002.001.12` statement of holdings (custody report), per investor and date;
- `seev.036.001.17` corporate action movement confirmation, per coupon or redemption payment to a holder;
- `camt.053.001.09` bank-to-customer cash statement, per day (one `Stmt` per investor escrow account).

Element order and value formats follow each message's published XSD (validated in the tests). Amounts
are INR with two decimals, quantities are face amounts (units × face value), identifiers are derived
from BondFlow ids (a 16-character FIN-safe transaction id for sese.023)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET  # we only build XML here, never parse untrusted input

NS = {
    "sese.023": "urn:iso:std:iso:20022:tech:xsd:sese.023.002.11",
    "sese.025": "urn:iso:std:iso:20022:tech:xsd:sese.025.001.13",
    "semt.002": "urn:iso:std:iso:20022:tech:xsd:semt.002.001.12",
    "seev.036": "urn:iso:std:iso:20022:tech:xsd:seev.036.001.17",
    "camt.053": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.09",
}
CCY = "INR"
CENT = Decimal("0.01")


def _el(parent: ET.Element, tag: str, text: Any = None, **attrs: str) -> ET.Element:
    child = ET.SubElement(parent, tag, attrs)
    if text is not None:
        child.text = _format(text)
    return child


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT)


def _document(message: str) -> tuple[ET.Element, str]:
    namespace = NS[message]
    return ET.Element("Document", {"xmlns": namespace}), namespace


def _bytes(root: ET.Element) -> bytes:
    xml: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return xml


def _date_choice(parent: ET.Element, tag: str, day: date) -> None:
    _el(_el(_el(parent, tag), "Dt"), "Dt", day)


def _security(parent: ET.Element, isin: str, name: str) -> None:
    fin = _el(parent, "FinInstrmId")
    _el(fin, "ISIN", isin)
    _el(fin, "Desc", _fin_text(name, 140))


def _fin_text(text: str, limit: int) -> str:
    """Only the SWIFT FIN character set survives (letters, digits and a few signs)."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")
    cleaned = "".join(c if c in allowed else " " for c in text).strip() or "-"
    return cleaned[:limit]


def _face_qty(parent: ET.Element, tag: str, face_amount: Decimal) -> None:
    _el(_el(_el(parent, tag), "Qty"), "FaceAmt", _money(face_amount))


def settlement_instruction(s: dict[str, Any]) -> bytes:
    """sese.023: the investor's side of one DvP settlement (RECE for a BUY, DELI for a SELL)."""
    root, _ = _document("sese.023")
    msg = _el(root, "SctiesSttlmTxInstr")
    _el(msg, "TxId", s["trade_id"].replace("-", "")[:16].upper())
    params = _el(msg, "SttlmTpAndAddtlParams")
    _el(params, "SctiesMvmntTp", "RECE" if s["side"] == "BUY" else "DELI")
    _el(params, "Pmt", "APMT")
    trade = _el(msg, "TradDtls")
    _date_choice(trade, "TradDt", s["trade_date"])
    _date_choice(trade, "SttlmDt", s["settlement_date"])
    _security(msg, s["isin"], s["name"])
    qty = _el(msg, "QtyAndAcctDtls")
    _face_qty(qty, "SttlmQty", s["qty"] * s["face_value"])
    _el(_el(qty, "SfkpgAcct"), "Id", _fin_text(f"BF{s['user_id']}", 35))
    _el(_el(_el(msg, "SttlmParams"), "SctiesTxTp"), "Cd", "TRAD")
    amount = _el(msg, "SttlmAmt")
    _el(amount, "Amt", _money(s["consideration"]), Ccy=CCY)
    _el(amount, "CdtDbtInd", "DBIT" if s["side"] == "BUY" else "CRDT")
    return _bytes(root)


def settlement_confirmation(s: dict[str, Any]) -> bytes:
    """sese.025: the settlement has happened (both DvP legs final)."""
    root, _ = _document("sese.025")
    msg = _el(root, "SctiesSttlmTxConf")
    ids = _el(msg, "TxIdDtls")
    _el(ids, "AcctOwnrTxId", s["trade_id"].replace("-", "")[:35])
    _el(ids, "SctiesMvmntTp", "RECE" if s["side"] == "BUY" else "DELI")
    _el(ids, "Pmt", "APMT")
    trade = _el(msg, "TradDtls")
    _date_choice(trade, "TradDt", s["trade_date"])
    _date_choice(trade, "FctvSttlmDt", s["settlement_date"])
    fin = _el(msg, "FinInstrmId")
    _el(fin, "ISIN", s["isin"])
    _el(fin, "Desc", s["name"][:140])
    qty = _el(msg, "QtyAndAcctDtls")
    _face_qty(qty, "SttldQty", s["qty"] * s["face_value"])
    _el(_el(qty, "SfkpgAcct"), "Id", f"BF{s['user_id']}"[:35])
    _el(_el(_el(msg, "SttlmParams"), "SctiesTxTp"), "Cd", "TRAD")
    amount = _el(msg, "SttldAmt")
    _el(amount, "Amt", _money(s["consideration"]), Ccy=CCY)
    _el(amount, "CdtDbtInd", "DBIT" if s["side"] == "BUY" else "CRDT")
    return _bytes(root)


def holdings_statement(
    user_id: str, on: date, holdings: Iterable[dict[str, Any]], created: datetime
) -> bytes:
    """semt.002: the investor's holdings per ISIN at the end of `on` (face amounts)."""
    root, _ = _document("semt.002")
    msg = _el(root, "SctiesBalCtdyRpt")
    page = _el(msg, "Pgntn")
    _el(page, "PgNb", "1")
    _el(page, "LastPgInd", True)
    general = _el(msg, "StmtGnlDtls")
    _el(general, "StmtId", f"SEMT-{on:%Y%m%d}"[:35])
    _el(_el(general, "StmtDtTm"), "Dt", on)
    _el(_el(general, "Frqcy"), "Cd", "ADHO")
    _el(_el(general, "UpdTp"), "Cd", "COMP")
    _el(_el(general, "StmtBsis"), "Cd", "SETT")
    _el(general, "ActvtyInd", True)
    _el(general, "SubAcctInd", False)
    _el(_el(msg, "SfkpgAcct"), "Id", f"BF{user_id}"[:35])
    for h in holdings:
        balance = _el(msg, "BalForAcct")
        fin = _el(balance, "FinInstrmId")
        _el(fin, "ISIN", h["isin"])
        _el(fin, "Desc", h["name"][:140])
        aggregate = _el(balance, "AggtBal")
        _el(aggregate, "ShrtLngInd", "LONG")
        _el(_el(_el(_el(aggregate, "Qty"), "Qty"), "Qty"), "FaceAmt", _money(h["qty"] * h["face_value"]))
    return _bytes(root)


def corporate_action_confirmation(p: dict[str, Any]) -> bytes:
    """seev.036: a coupon (INTR) or redemption (REDM) paid to one holder, with gross, TDS and net."""
    root, _ = _document("seev.036")
    msg = _el(root, "CorpActnMvmntConf")
    general = _el(msg, "CorpActnGnlInf")
    _el(general, "CorpActnEvtId", p["event_id"][:35])
    _el(_el(general, "EvtTp"), "Cd", "INTR" if p["kind"] == "coupon" else "REDM")
    fin = _el(general, "FinInstrmId")
    _el(fin, "ISIN", p["isin"])
    account = _el(msg, "AcctDtls")
    _el(account, "SfkpgAcct", f"BF{p['holder']}"[:35])
    confirmed = _el(_el(_el(account, "Bal"), "ConfdBal"), "Bal")
    _el(confirmed, "ShrtLngPos", "LONG")
    _el(_el(_el(confirmed, "QtyChc"), "Qty"), "FaceAmt", _money(p["units"] * p["face_value"]))
    option = _el(msg, "CorpActnConfDtls")
    _el(_el(option, "OptnNb"), "Nb", "001")
    _el(_el(option, "OptnTp"), "Cd", "CASH")
    cash = _el(option, "CshMvmntDtls")
    _el(cash, "CdtDbtInd", "CRDT")
    amounts = _el(cash, "AmtDtls")  # posted = net credited to escrow; TDS as withholding tax
    _el(amounts, "PstngAmt", _money(p["net"]), Ccy=CCY)
    _el(amounts, "GrssAmt", _money(p["gross"]), Ccy=CCY)
    _el(amounts, "NetAmt", _money(p["net"]), Ccy=CCY)
    if p["kind"] == "coupon":
        _el(amounts, "WhldgTaxAmt", _money(p["tds"]), Ccy=CCY)
    else:
        _el(amounts, "PrncplOrCrps", _money(p["gross"]), Ccy=CCY)
    dates = _el(cash, "DtDtls")
    _el(_el(dates, "PstngDt"), "Dt", p["payment_date"])
    _el(dates, "ValDt", p["payment_date"])
    _el(dates, "PmtDt", p["payment_date"])
    return _bytes(root)


def cash_statement(day: date, accounts: Iterable[dict[str, Any]], created: datetime) -> bytes:
    """camt.053: per investor escrow account, opening and closing balances and the day's entries."""
    root, _ = _document("camt.053")
    msg = _el(root, "BkToCstmrStmt")
    header = _el(msg, "GrpHdr")
    _el(header, "MsgId", f"CAMT053-{day:%Y%m%d}")
    _el(header, "CreDtTm", created.replace(microsecond=0))
    for account in accounts:
        statement = _el(msg, "Stmt")
        _el(statement, "Id", f"{day:%Y%m%d}-{account['user_id']}"[:35])
        _el(_el(_el(_el(statement, "Acct"), "Id"), "Othr"), "Id", f"escrow:{account['user_id']}"[:34])
        for code, amount in (("OPBD", account["opening"]), ("CLBD", account["closing"])):
            _balance(statement, code, amount, day)
        for entry in account["entries"]:
            _entry(statement, entry, day)
    return _bytes(root)


def _balance(statement: ET.Element, code: str, amount: Decimal, day: date) -> None:
    balance = _el(statement, "Bal")
    _el(_el(_el(balance, "Tp"), "CdOrPrtry"), "Cd", code)
    _el(balance, "Amt", _money(abs(amount)), Ccy=CCY)
    _el(balance, "CdtDbtInd", "CRDT" if amount >= 0 else "DBIT")
    _el(_el(balance, "Dt"), "Dt", day)


def _entry(statement: ET.Element, entry: dict[str, Any], day: date) -> None:
    node = _el(statement, "Ntry")
    _el(node, "NtryRef", entry["reference"][:35])
    _el(node, "Amt", _money(abs(entry["amount"])), Ccy=CCY)
    _el(node, "CdtDbtInd", "CRDT" if entry["amount"] >= 0 else "DBIT")
    _el(_el(node, "Sts"), "Cd", "BOOK")
    _el(_el(node, "BookgDt"), "Dt", day)
    _el(_el(node, "ValDt"), "Dt", day)
    _el(_el(_el(node, "BkTxCd"), "Prtry"), "Cd", entry["code"])
    _el(node, "AddtlNtryInf", entry["description"][:500])
