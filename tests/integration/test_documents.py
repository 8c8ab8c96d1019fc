"""Investor documents over HTTP: the contract note of a trade and the statement of a period (holdings,
transactions, FIFO realised and unrealised PnL, coupons and TDS), as JSON and as PDF. Each PDF page is
rendered to a PNG (PDFium, the pypdfium2 wheel) and checked: the image is not blank and the page's text
carries the figures of the JSON answer."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bondflow.runtime.clock import ManualClock
from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.integration.test_portfolio import caught_up, settled_buy
from tests.integration.test_settlement import order_in

pytestmark = pytest.mark.integration

D = Decimal
GSEC = "IN0020240019"


def rendered_text(pdf: bytes, png: Path) -> str:
    """Render page 1 to `png`, check the image has ink on it, and return the page's text."""
    try:
        import pypdfium2 as pdfium
        from PIL import Image
    except ImportError as missing:  # a dev dependency: `pip install -e '.[dev]'`
        pytest.fail(f"rendering PDFs needs pypdfium2 and Pillow (dev extras): {missing}")
    document = pdfium.PdfDocument(pdf)
    page = document[0]
    page.render(scale=2).to_pil().save(png)
    image = Image.open(png).convert("L")
    dark = image.point(lambda value: 255 if value < 128 else 0).histogram()[255]
    assert image.size[0] > 1000 and dark > 0.002 * image.size[0] * image.size[1], "the page is blank"
    return str(page.get_textpage().get_text_range())


def sell(client: TestClient, container: Container, headers: dict[str, str], **order: Any) -> None:
    placed = client.post(
        "/v1/orders", json={"side": "SELL", **order}, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert placed.status_code == 202, placed.text
    order_in(client, headers, placed.json()["data"]["order_id"], "FILLED")
    caught_up(container)


def test_contract_note_and_statement(
    client: TestClient, container: Container, clock: ManualClock, tmp_path: Path
) -> None:
    container.start_followers(["execution"])
    alice = bearer(container, sub="alice-docs", funds=D(1_000_000))
    settled_buy(client, container, alice, isin=GSEC, qty="100", limit_clean_price="106")
    settled_buy(client, container, alice, isin=GSEC, qty="50", limit_clean_price="106")
    sell(client, container, alice, isin=GSEC, qty="120", limit_clean_price="97")
    trades = sorted(client.get("/v1/trades", headers=alice).json()["data"], key=lambda t: t["executed_at"])
    buys = [t for t in trades if t["side"] == "BUY"]
    assert [t["side"] for t in trades][: len(buys)] == ["BUY"] * len(buys)

    note = client.get(f"/v1/trades/{buys[0]['trade_id']}/contract-note", headers=alice)
    assert note.status_code == 200, note.text
    n = note.json()["data"]
    assert (n["isin"], n["side"], n["order_id"], n["counterparty"]) == (
        GSEC,
        "BUY",
        buys[0]["order_id"],
        f"dealer:{buys[0]['dealer']}",
    )
    assert D(n["consideration"]) == D(n["principal"]) + D(n["accrued_interest"])
    assert D(n["stamp_duty"]) == (D(n["consideration"]) * D("0.000001")).quantize(D("0.01"))
    assert D(n["net_amount"]) == D(n["consideration"]) + D(n["fee"]) + D(n["stamp_duty"])
    pdf = client.get(f"/v1/trades/{buys[0]['trade_id']}/contract-note?format=pdf", headers=alice)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = rendered_text(pdf.content, tmp_path / "contract-note.png")
    for expected in ("Contract Note", n["contract_note_no"], GSEC, n["net_amount"], n["stamp_duty"]):
        assert expected in text, expected

    other = bearer(container, sub="bob-docs")
    assert client.get(f"/v1/trades/{buys[0]['trade_id']}/contract-note", headers=other).status_code == 404
    assert client.get("/v1/trades/not-a-uuid/contract-note", headers=alice).status_code == 404
    assert (
        client.get(f"/v1/trades/{buys[0]['trade_id']}/contract-note?format=doc", headers=alice).status_code
        == 400
    )

    # a coupon of the G-sec on the 30 units still held (record date 10 Jan 2027, paid 25 Jan: no TDS)
    clock.advance(timedelta(days=62))
    container.corporate_actions.job.tick()
    assert container.corporate_actions.job.last_error is None
    caught_up(container)
    alice = bearer(container, sub="alice-docs")
    answer = client.get("/v1/portfolio/statements?from=2026-11-01&to=2027-01-31", headers=alice)
    assert answer.status_code == 200, answer.text
    s = answer.json()["data"]
    sells = [t for t in trades if t["side"] == "SELL"]
    lots = [[D(t["qty"]), D(t["clean_price"])] for t in buys]
    expected_realised = D(0)
    for t in sells:
        units = D(t["qty"])
        for lot in lots:
            taken = min(units, lot[0])
            expected_realised += taken * (D(t["clean_price"]) - lot[1])
            lot[0] -= taken
            units -= taken
    face = D(100)
    assert D(s["totals"]["realized_pnl"]) == (expected_realised * face / 100).quantize(D("0.01"))
    (holding,) = s["holdings"]
    assert D(holding["qty"]) == D(30)
    coupon = next(t for t in s["transactions"] if t["type"] == "COUPON")
    assert (coupon["date"], D(coupon["gross"]), D(coupon["tds"])) == ("2027-01-25", D("107.70"), D(0))
    assert D(s["totals"]["coupons_net"]) == D("107.70")
    statement_pdf = client.get(
        "/v1/portfolio/statements?from=2026-11-01&to=2027-01-31&format=pdf", headers=alice
    )
    assert statement_pdf.status_code == 200
    text = rendered_text(statement_pdf.content, tmp_path / "statement.png")
    for expected in ("Statement of Account", "Realised PnL", s["totals"]["realized_pnl"], "COUPON", "107.70"):
        assert expected in text, expected
    refused = client.get("/v1/portfolio/statements?from=2027-02-01&to=2027-01-31", headers=alice)
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "BF-REQ-001")
