"""The investor's coupon calendar: coupons and redemptions already paid (from the corporate-actions read
model, with the TDS actually deducted) and the coupons still to come on the units held, with the TDS the
rules of DOMAIN.md would deduct given the interest already received from the issuer in the year."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bondflow.domain.tds import assess, financial_year
from bondflow.wiring.corporate_actions import CorporateActions
from projections.corporate_actions.queries import payments_of
from projections.instruments.queries import InstrumentRow


def calendar(
    db: Any,
    ca: CorporateActions,
    holder: str,
    upcoming: list[dict[str, Any]],
    bonds: dict[str, InstrumentRow],
) -> list[dict[str, Any]]:
    paid = payments_of(db, holder)
    received: dict[tuple[str, int], Decimal] = {}
    for p in paid:
        if p["kind"] == "coupon":
            key = (p["issuer"], p["financial_year"])
            received[key] = received.get(key, Decimal(0)) + p["gross"]
    rows = [{"status": "paid", **p} for p in paid]
    for coupon in sorted(upcoming, key=lambda c: c["payment_date"]):
        bond = bonds[coupon["isin"]]
        fy = financial_year(coupon["payment_date"])
        key = (bond.issuer, fy)
        decision = assess(
            ca.tds,
            ca.profiles.profile(holder, fy),
            rating_bucket=bond.rating_bucket,
            gross=coupon["gross"],
            paid_on=coupon["payment_date"],
            earlier_interest_in_fy=received.get(key, Decimal(0)),
        )
        if bond.rating_bucket not in ca.tds.exempt_rating_buckets:
            received[key] = received.get(key, Decimal(0)) + coupon["gross"]
        rows.append(
            {
                **coupon,
                "status": "scheduled",
                "kind": "coupon",
                "issuer": bond.issuer,
                "tds_pct": decision.rate_pct,
                "tds": decision.tds,
                "net": decision.net,
                "tds_rule": decision.rule.value,
                "tds_section": decision.section,
            }
        )
    return rows
