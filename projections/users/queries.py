"""Queries over the investors read model: one profile, one KYC status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from bondflow.adapters.postgres import Database


@dataclass(frozen=True, slots=True)
class ProfileRow:
    user_id: UUID
    email_sealed: str | None
    phone_sealed: str | None
    residency: str
    investor_category: str
    status: str
    registered_at: datetime
    updated_at: datetime
    erased_at: datetime | None


@dataclass(frozen=True, slots=True)
class KycStatusRow:
    status: str
    tier: str | None
    process_token: str
    kra_ref: str | None
    ckyc_no: str | None
    updated_at: datetime


def get_profile(db: Database, user_id: UUID) -> ProfileRow | None:
    with db.cursor() as cur:
        row = cur.execute(
            "SELECT user_id, email_sealed, phone_sealed, residency, investor_category, status, registered_at,"
            " updated_at, erased_at FROM users_view WHERE user_id = %s",
            (user_id,),
        ).fetchone()
    return None if row is None else ProfileRow(*row)


def get_kyc_status(db: Database, user_id: UUID) -> KycStatusRow | None:
    with db.cursor() as cur:
        row = cur.execute(
            "SELECT status, tier, process_token, kra_ref, ckyc_no, updated_at FROM kyc_status_view"
            " WHERE user_id = %s",
            (user_id,),
        ).fetchone()
    return None if row is None else KycStatusRow(*row)
