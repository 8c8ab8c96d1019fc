"""The corporate-action, token and tax-declaration events' regulator contract: each has a topic, every
attribute is in its schema's payload (no more, no less), and records round-trip through Avro."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from bondflow.audit.canonical import canonical_bytes
from bondflow.audit.records import ENVELOPE_ATTRIBUTES, record_of
from bondflow.avro.contracts import current_contracts
from bondflow.avro.encoding import decode, encode
from bondflow.domain.bonds import BondTerms, BusinessCalendar, DayCount
from bondflow.domain.bonds.amortising import PartialRedemption
from bondflow.domain.corporate_actions import CorporateAction
from bondflow.domain.entitlement import entitlements
from bondflow.domain.ids import derived_id
from bondflow.domain.instruments import Instrument
from bondflow.domain.tax_declarations import TaxDeclaration, declaration_id
from bondflow.domain.tds import TaxProfile, TdsConfig, assess
from bondflow.domain.tokens import BURN, MINT, TokenMovement

WHO: dict[str, Any] = {"actor_id": "system:coupon-job", "request_id": "r"}
TERMS = BondTerms(
    Decimal("8.1"), 4, date(2026, 1, 15), date(2027, 1, 15), Decimal(1000), DayCount.ACT_ACT_SEBI
)


def every_event() -> list[Any]:
    actions = entitlements("INE123A07043", TERMS, BusinessCalendar(), 15)
    coupon = CorporateAction.schedule(actions[0], issuer="Acme", rating_bucket="AAA", **WHO)
    coupon.record_holders({"u-1": Decimal("3.5"), "u-2": Decimal(1)}, **WHO)
    decision = assess(
        TdsConfig(),
        TaxProfile("IN", "retail", True),
        rating_bucket="AAA",
        gross=Decimal("70.90"),
        paid_on=actions[0].payment_date,
        earlier_interest_in_fy=Decimal(20000),
    )
    coupon.pay_coupon("u-1", decision, **WHO)
    redemption = CorporateAction.schedule(actions[-1], issuer="Acme", rating_bucket="AAA", **WHO)
    redemption.record_holders({"u-1": Decimal(2)}, **WHO)
    redemption.redeem("u-1", Decimal("2000.00"), **WHO)
    redemption.complete(**WHO)
    mint = TokenMovement.record(
        MINT,
        isin="INE123A07043",
        wallet="issuer:Acme",
        qty=Decimal(1000),
        tx_hash="0x1",
        idempotency_key="k1",
        reason="listing",
        **WHO,
    )
    burn = TokenMovement.record(
        BURN,
        isin="INE123A07043",
        wallet="investor:u-1",
        qty=Decimal(2),
        tx_hash="0x2",
        idempotency_key="k2",
        reason="redemption",
        **WHO,
    )
    filed = TaxDeclaration(
        id=declaration_id("u-1", 2026),
        user_id="u-1",
        form="15G",
        financial_year=2026,
        filed_at=datetime(2026, 5, 1, tzinfo=UTC),
        **WHO,
    )
    return [
        *coupon.collect_events(),
        *redemption.collect_events(),
        *mint.collect_events(),
        *burn.collect_events(),
        *filed.collect_events(),
        *amortising_instrument().collect_events()[1:],
    ]


def amortising_instrument() -> Instrument:
    instrument = Instrument(
        id=derived_id("instrument", "INE123A07043"),
        isin="INE123A07043",
        issuer="Acme",
        name="Acme 8.1% 2027",
        coupon_rate=TERMS.coupon_rate,
        coupon_frequency=4,
        issue_date=TERMS.issue_date,
        maturity_date=TERMS.maturity_date,
        face_value=TERMS.face_value,
        day_count=TERMS.day_count.value,
        rating="AAA",
        rating_bucket="AAA",
        eligible_investor_categories=["retail"],
        allowed_residencies=["IN"],
        record_date_days=15,
        lockup_until=None,
        reference_clean_price=Decimal(100),
        price_band_pct=Decimal(5),
        **WHO,
    )
    instrument.set_redemption_schedule((PartialRedemption(date(2026, 7, 15), Decimal(250)),), **WHO)
    return instrument


def test_every_new_event_type_is_sampled() -> None:
    assert {type(e).__qualname__ for e in every_event()} == {
        "CorporateAction.CouponScheduled",
        "CorporateAction.HoldersRecorded",
        "CorporateAction.CouponPaid",
        "CorporateAction.RedemptionScheduled",
        "CorporateAction.Redeemed",
        "CorporateAction.Completed",
        "TokenMovement.Minted",
        "TokenMovement.Burned",
        "TaxDeclaration.Filed",
        "Instrument.RedemptionScheduleSet",
    }


def test_every_attribute_is_in_its_schema_payload() -> None:
    contracts = current_contracts()
    for event in every_event():
        record = record_of(event)
        payload = next(f for f in contracts[record["topic"]].raw["fields"] if f["name"] == "payload")
        declared = {f["name"] for f in payload["type"]["fields"]}
        assert set(event.__dict__) - ENVELOPE_ATTRIBUTES == declared, record["topic"]


def test_records_round_trip_and_canonicalise() -> None:
    contracts = current_contracts()
    by_fingerprint = {c.fingerprint: c for c in contracts.values()}
    for event in every_event():
        record = record_of(event)
        assert canonical_bytes(record)  # the audit chain can hash it
        decoded = decode(encode(record, contracts[record["topic"]]), by_fingerprint)
        assert decoded["event_type"] == type(event).__qualname__
        if record["topic"] == "corporate_action.coupon_paid.v1":
            paid = decoded["payload"]
            assert (paid["gross"], paid["tds"], paid["net"]) == (
                Decimal("70.90"),
                Decimal("7.09"),
                Decimal("63.81"),
            )
            assert (paid["tds_rule"], paid["tds_section"], paid["tds_account"]) == ("s193", "193", "tax:tds")
        if record["topic"] == "corporate_action.holders_recorded.v1":
            assert decoded["payload"]["holders"][0]["units"] in {Decimal("3.500000"), Decimal("2.000000")}
        if record["topic"] == "corporate_action.coupon_scheduled.v1":
            assert decoded["payload"]["payment_date"] == date(2026, 4, 15)
