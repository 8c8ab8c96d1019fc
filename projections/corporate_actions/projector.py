"""Corporate actions in PostgreSQL: every scheduled coupon and redemption with its state, every payment to a
holder (gross, TDS with rule, section and rate, net), the 15G/15H declarations and the token supply per
ISIN (minted − burned). Fed by the CorporateAction, TaxDeclaration and TokenMovement events; read by the
coupon calendar, the TDS and corporate-action reports, TDS certificates and statements."""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from bondflow.domain.corporate_actions import CorporateAction
from bondflow.domain.tax_declarations import TaxDeclaration
from bondflow.domain.tds import financial_year, quarter_of
from bondflow.domain.tokens import TokenMovement
from projections.base.postgres import PostgresProjector

DDL = """
CREATE TABLE IF NOT EXISTS corporate_actions_view (
    action_id uuid PRIMARY KEY,
    isin text NOT NULL,
    issuer text NOT NULL,
    kind text NOT NULL,
    scheduled_on date NOT NULL,
    record_date date NOT NULL,
    payment_date date NOT NULL,
    amount_per_unit numeric(38, 20) NOT NULL,
    face_after numeric(20, 2) NOT NULL,
    state text NOT NULL,
    holders int NOT NULL DEFAULT 0,
    total numeric(20, 2) NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ca_payments_view (
    action_id uuid NOT NULL,
    holder text NOT NULL,
    isin text NOT NULL,
    issuer text NOT NULL,
    kind text NOT NULL,
    payment_date date NOT NULL,
    units numeric(20, 6) NOT NULL,
    gross numeric(20, 2) NOT NULL,
    tds numeric(20, 2) NOT NULL,
    net numeric(20, 2) NOT NULL,
    tds_rule text,
    tds_section text,
    tds_rate_pct numeric(12, 6),
    financial_year int NOT NULL,
    quarter int NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (action_id, holder)
);
CREATE INDEX IF NOT EXISTS ca_payments_by_holder ON ca_payments_view (holder, payment_date);
CREATE TABLE IF NOT EXISTS tax_declarations_view (
    user_id text NOT NULL,
    financial_year int NOT NULL,
    form text NOT NULL,
    filed_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, financial_year)
);
CREATE TABLE IF NOT EXISTS token_supply_view (
    isin text PRIMARY KEY,
    minted numeric(24, 6) NOT NULL DEFAULT 0,
    burned numeric(24, 6) NOT NULL DEFAULT 0
);
"""

CA: Any = CorporateAction
SCHEDULED = (CA.CouponScheduled, CA.RedemptionScheduled)


class CorporateActionsProjector(PostgresProjector):
    name = "corporate_actions_view"
    tables: ClassVar[dict[str, str]] = {
        "corporate_actions_view": "action_id",
        "ca_payments_view": "action_id, holder",
        "tax_declarations_view": "user_id, financial_year",
        "token_supply_view": "isin",
    }
    ddl = DDL
    topics = frozenset(
        get_topic(c)
        for c in (
            *SCHEDULED,
            CA.HoldersRecorded,
            CA.CouponPaid,
            CA.Redeemed,
            CA.Completed,
            TaxDeclaration.Filed,
            TokenMovement.Minted,
            TokenMovement.Burned,
        )
    )

    def apply(self, cur: Any, event: Any, position: int) -> None:
        name = type(event).__qualname__
        if isinstance(event, SCHEDULED):
            self._scheduled(cur, event)
        elif name == "CorporateAction.HoldersRecorded":
            cur.execute(
                "UPDATE corporate_actions_view SET state = 'holders_recorded', holders = %s WHERE action_id = %s",
                (len(event.holders), event.originator_id),
            )
        elif name in {"CorporateAction.CouponPaid", "CorporateAction.Redeemed"}:
            self._paid(cur, event)
        elif name == "CorporateAction.Completed":
            cur.execute(
                "UPDATE corporate_actions_view SET state = 'completed', total = %s WHERE action_id = %s",
                (event.total, event.originator_id),
            )
        elif name == "TaxDeclaration.Filed":
            cur.execute(
                "INSERT INTO tax_declarations_view (user_id, financial_year, form, filed_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (event.user_id, event.financial_year, event.form, event.filed_at),
            )
        else:
            column = "minted" if name == "TokenMovement.Minted" else "burned"
            cur.execute(
                f"INSERT INTO token_supply_view (isin, {column}) VALUES (%s, %s)"  # column: one of two names
                f" ON CONFLICT (isin) DO UPDATE SET {column} = token_supply_view.{column} + EXCLUDED.{column}",
                (event.isin, event.qty),
            )

    @staticmethod
    def _scheduled(cur: Any, e: Any) -> None:
        cur.execute(
            "INSERT INTO corporate_actions_view (action_id, isin, issuer, kind, scheduled_on, record_date,"
            " payment_date, amount_per_unit, face_after, state) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
            " 'scheduled') ON CONFLICT DO NOTHING",
            (
                e.originator_id,
                e.isin,
                e.issuer,
                e.kind,
                e.scheduled_on,
                e.record_date,
                e.payment_date,
                e.amount_per_unit,
                e.face_after,
            ),
        )

    @staticmethod
    def _paid(cur: Any, e: Any) -> None:
        coupon = type(e).__qualname__ == "CorporateAction.CouponPaid"
        gross = e.gross if coupon else e.amount
        cur.execute(
            "INSERT INTO ca_payments_view (action_id, holder, isin, issuer, kind, payment_date, units, gross,"
            " tds, net, tds_rule, tds_section, tds_rate_pct, financial_year, quarter, recorded_at)"
            " SELECT %s, %s, isin, issuer, kind, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s"
            " FROM corporate_actions_view WHERE action_id = %s ON CONFLICT DO NOTHING",
            (
                e.originator_id,
                e.holder,
                e.payment_date,
                e.units,
                gross,
                e.tds if coupon else 0,
                e.net if coupon else gross,
                e.tds_rule if coupon else None,
                e.tds_section if coupon else None,
                e.tds_rate_pct if coupon else None,
                e.financial_year if coupon else financial_year(e.payment_date),
                quarter_of(e.payment_date),
                e.timestamp,
                e.originator_id,
            ),
        )
