"""Investor and report endpoints of corporate actions over HTTP: filing a 15G/15H, the coupon calendar with
paid coupons and TDS, the TDS and corporate-action reports, Form 16A-style certificate data, and holdings
dropping a bond once it is redeemed."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from bondflow.runtime.clock import ManualClock, business_date
from bondflow.security.principal import Role
from bondflow.wiring.container import Container
from tests.conftest import bearer
from tests.support.corporate_actions import investor, list_bond, settle_trade, valid_isin

D = Decimal


def stop_settlement(container: Container) -> None:
    """Trades here are settled as the saga would leave them, so the saga must not pick them up."""
    for name in ("settlement_saga", "settlement_payments", "settlement_chain", "settlement_timer"):
        container.followers[name].stop()
        container.running.remove(name)


def test_filing_a_declaration(client: TestClient, container: Container) -> None:
    headers = bearer(container, Role.INVESTOR, "decl-investor")
    body = {"form": "15G", "financial_year": "2026-27"}
    first = client.post("/v1/tax/declarations", json=body, headers=headers)
    assert first.status_code == 202, first.text
    assert first.json()["data"]["effective"] is False  # no PAN on record for a token-only investor
    again = client.post("/v1/tax/declarations", json=body, headers=headers)
    assert again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/tax/declarations", json={**body, "form": "15H"}, headers=headers)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "BF-TAX-001")
    for bad in (
        {"form": "16A", "financial_year": "2026-27"},
        {"form": "15G", "financial_year": "2024-25"},
        {"form": "15G", "financial_year": "2026-28"},
        {"form": "15G"},
        {**body, "extra": 1},
    ):
        refused = client.post("/v1/tax/declarations", json=bad, headers=headers)
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, "BF-REQ-001"), bad
    position = first.json()["meta"]["position"]
    listed = client.get(f"/v1/tax/declarations?min_position={position}", headers=headers).json()["data"]
    assert [(d["form"], d["financial_year"]) for d in listed] == [("15G", "2026-27")]
    nri = investor(container, residency="AE")
    refused = client.post("/v1/tax/declarations", json=body, headers=bearer(container, Role.INVESTOR, nri))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "BF-KYC-002")


def test_coupons_reports_and_certificates(
    client: TestClient, container: Container, clock: ManualClock
) -> None:
    stop_settlement(container)
    isin = list_bond(
        container,
        isin=valid_isin("INE778A0701"),
        coupon_rate="12",
        coupon_frequency=12,
        issue_date="2026-11-10",
        maturity_date="2027-02-10",
        day_count="ACT/365F",
    )
    holder = investor(container)
    settle_trade(container, clock, holder, isin, "BUY", D(1000))  # ₹10 lakh face: 12% a month ≈ ₹10,000
    for _ in range(80):
        container.corporate_actions.job.tick()
        clock.advance(timedelta(days=1))
    container.corporate_actions.job.tick()
    assert container.corporate_actions.job.last_error is None
    head = container.store.head_position()
    headers = bearer(container, Role.INVESTOR, holder, funds=None)  # tokens expire: mint one after a year

    coupons = client.get(f"/v1/portfolio/coupons?min_position={head}", headers=headers)
    assert coupons.status_code == 200, coupons.text
    paid = [c for c in coupons.json()["data"] if c["status"] == "paid"]
    assert [(c["kind"], c["payment_date"]) for c in paid] == [
        ("coupon", "2026-12-10"),
        ("coupon", "2027-01-11"),  # 10 Jan 2027 is a Sunday: paid the next business day
        ("coupon", "2027-02-10"),
        ("redemption", "2027-02-10"),
    ]
    dec = paid[0]["gross"], paid[1]["gross"], paid[2]["gross"]
    assert [c["tds_rule"] for c in paid[:3]] == ["below_threshold", "s193", "s193"], dec
    assert all(D(c["net"]) == D(c["gross"]) - D(c["tds"]) for c in paid)

    ops = bearer(container, Role.OPS)
    tds = client.get(f"/v1/reports/tds?from=2026-12-01&to=2027-03-31&min_position={head}", headers=ops)
    assert tds.status_code == 200, tds.text
    rows = list(csv.DictReader(io.StringIO(tds.text)))
    assert [(r["user_id"], r["tds_rule"], r["tds_section"]) for r in rows][1:] == [
        (holder, "s193", "193")
    ] * 2
    actions = client.get(
        f"/v1/reports/corporate-actions?from=2026-12-01&to=2027-03-31&min_position={head}", headers=ops
    )
    kinds = [
        (r["action"], r["state"]) for r in csv.DictReader(io.StringIO(actions.text)) if r["isin"] == isin
    ]
    assert kinds == [("coupon", "completed")] * 3 + [("redemption", "completed")]

    q4 = client.get(
        f"/v1/tax/tds-certificates?financial_year=2026-27&quarter=4&min_position={head}", headers=headers
    ).json()["data"]
    assert q4["quarter"] == "Q4 (Jan-Mar)" and q4["assessment_year"] == "2027-28"
    (deductor,) = q4["deductors"]
    assert [p["date_of_payment"] for p in deductor["payments"]] == ["2027-01-11", "2027-02-10"]
    assert D(q4["total_tds"]) == sum(D(r["tds"]) for r in rows[1:]) > 0
    bad = client.get("/v1/tax/tds-certificates?financial_year=2026&quarter=5", headers=headers)
    assert bad.status_code == 400

    holdings = client.get(f"/v1/portfolio/holdings?min_position={head}", headers=headers).json()["data"]
    assert [h["isin"] for h in holdings["holdings"]] == []  # redeemed: the holding dropped the bond
    assert business_date(clock) > container.instruments.load(isin).maturity_date
    chain = container.settlement.chain
    assert chain.supply(isin) == 0
