"""The investors read model in PostgreSQL: profiles (personal fields still sealed) and KYC status.

Rows and position commit together. Only ciphertext, ids, hashes and provider references are stored; the
query side opens sealed fields with the investor's data key, which erasure destroys.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from bondflow.domain.kyc import KycCase, KycStatus, process_token_for
from bondflow.domain.users import User, UserStatus
from projections.base.postgres import PostgresProjector

DDL = """
CREATE TABLE IF NOT EXISTS users_view (
    user_id uuid PRIMARY KEY,
    email_sealed text,
    phone_sealed text,
    residency text NOT NULL,
    investor_category text NOT NULL,
    status text NOT NULL,
    registered_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    erased_at timestamptz,
    position bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS kyc_status_view (
    user_id uuid PRIMARY KEY,
    case_id uuid NOT NULL,
    process_token text NOT NULL,
    status text NOT NULL,
    tier text,
    kra_ref text,
    ckyc_no text,
    updated_at timestamptz NOT NULL,
    position bigint NOT NULL
);
"""

REGISTERED = User.Registered
ACTIVATED = User.Activated
SUSPENDED = User.Suspended
ERASED = User.PersonalDataErased
KYC_STARTED = KycCase.Started
KYC_RESTARTED = KycCase.Restarted
KYC_VERIFIED = KycCase.Verified
KYC_REJECTED = KycCase.Rejected
HANDLED = (REGISTERED, ACTIVATED, SUSPENDED, ERASED, KYC_STARTED, KYC_RESTARTED, KYC_VERIFIED, KYC_REJECTED)


class InvestorsProjector(PostgresProjector):
    name = "users_view"
    tables: ClassVar[dict[str, str]] = {"users_view": "user_id", "kyc_status_view": "user_id"}
    topics = frozenset(get_topic(c) for c in HANDLED)
    ddl = DDL

    def apply(self, cur: Any, event: Any, position: int) -> None:
        if isinstance(event, KYC_STARTED | KYC_RESTARTED | KYC_VERIFIED | KYC_REJECTED):
            _apply_kyc(cur, event, position)
        else:
            _apply_user(cur, event, position)


def _apply_user(cur: Any, event: Any, position: int) -> None:
    if isinstance(event, REGISTERED):
        cur.execute(
            "INSERT INTO users_view (user_id, email_sealed, phone_sealed, residency, investor_category, status,"
            " registered_at, updated_at, position) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (user_id) DO NOTHING",
            (
                event.originator_id,
                event.email_sealed,
                event.phone_sealed,
                event.residency,
                event.investor_category,
                UserStatus.PENDING.value,
                event.registered_at,
                event.timestamp,
                position,
            ),
        )
    elif isinstance(event, ERASED):
        cur.execute(
            "UPDATE users_view SET email_sealed = NULL, phone_sealed = NULL, erased_at = %s, updated_at = %s,"
            " position = %s WHERE user_id = %s AND position < %s",
            (event.timestamp, event.timestamp, position, event.originator_id, position),
        )
    else:
        status = UserStatus.ACTIVE if isinstance(event, ACTIVATED) else UserStatus.SUSPENDED
        cur.execute(
            "UPDATE users_view SET status = %s, updated_at = %s, position = %s WHERE user_id = %s AND position < %s",
            (status.value, event.timestamp, position, event.originator_id, position),
        )


def _apply_kyc(cur: Any, event: Any, position: int) -> None:
    if isinstance(event, KYC_STARTED):
        cur.execute(
            "INSERT INTO kyc_status_view (user_id, case_id, process_token, status, updated_at, position)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (user_id) DO NOTHING",
            (
                event.user_id,
                event.originator_id,
                process_token_for(event.originator_id, 1),
                KycStatus.PENDING.value,
                event.started_at,
                position,
            ),
        )
        return
    if isinstance(event, KYC_RESTARTED):
        cur.execute(
            "UPDATE kyc_status_view SET process_token = %s, status = %s, tier = NULL, kra_ref = NULL,"
            " ckyc_no = NULL, updated_at = %s, position = %s WHERE case_id = %s AND position < %s",
            (
                process_token_for(event.originator_id, event.attempt),
                KycStatus.PENDING.value,
                event.started_at,
                position,
                event.originator_id,
                position,
            ),
        )
        return
    verified = isinstance(event, KYC_VERIFIED)
    cur.execute(
        "UPDATE kyc_status_view SET status = %s, tier = %s, kra_ref = %s, ckyc_no = %s, updated_at = %s,"
        " position = %s WHERE case_id = %s AND position < %s",
        (
            (KycStatus.VERIFIED if verified else KycStatus.REJECTED).value,
            event.tier if verified else None,
            event.kra_ref,
            event.ckyc_no if verified else None,
            event.decided_at,
            position,
            event.originator_id,
            position,
        ),
    )
