"""The KycCase aggregate: one per investor, started (and restarted after a rejection), then verified or
rejected by the provider's signed webhook or, exceptionally, by an admin who is not the investor.

Only a keyed hash of the PAN and the provider's references (`kra_ref`, `ckyc_no`) are recorded.
Pure: no I/O. Event class paths (`bondflow.domain.kyc:KycCase.Started`, …) are stored data.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.ids import derived_id
from bondflow.domain.policy import ensure_not_own_kyc
from bondflow.errors import InvalidRequest

_PAN = re.compile(r"^[A-Z]{5}[0-9]{4}[A-Z]$")
_LAST4 = re.compile(r"^[0-9]{4}$")
_PROCESS_TOKEN = re.compile(r"^kyc_([0-9a-f]{32})_([0-9]{1,6})$")


class KycStatus(StrEnum):
    NOT_STARTED = "not_started"
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


class KycTier(StrEnum):
    BASIC = "basic"  # PAN verified
    FULL = "full"  # PAN and Aadhaar (offline e-KYC) verified

    @classmethod
    def parse(cls, raw: object, field: str = "tier") -> KycTier:
        if not isinstance(raw, str) or raw not in {t.value for t in cls}:
            raise InvalidRequest(f"{field}: must be basic or full", {"fields": {field: "basic or full"}})
        return cls(str(raw))


def parse_pan(raw: object, field: str = "pan") -> str:
    if not isinstance(raw, str) or not _PAN.match(raw):
        message = "must be a PAN: 5 capital letters, 4 digits, 1 capital letter"
        raise InvalidRequest(f"{field}: {message}", {"fields": {field: message}})
    return raw


def parse_aadhaar_last4(raw: object, field: str = "aadhaar_last4") -> str:
    if not isinstance(raw, str) or not _LAST4.match(raw):
        raise InvalidRequest(f"{field}: must be 4 digits", {"fields": {field: "4 digits, as a string"}})
    return raw


def case_id_for(user_id: UUID) -> UUID:
    return derived_id("kyc-case", str(user_id))


def process_token_for(case_id: UUID, attempt: int) -> str:
    return f"kyc_{case_id.hex}_{attempt}"


def case_id_of_token(token: str) -> UUID | None:
    match = _PROCESS_TOKEN.match(token)
    return UUID(hex=match.group(1)) if match else None


class KycCase(Aggregate):
    class Started(Aggregate.Created):
        user_id: str
        pan_hash: str
        with_aadhaar: bool
        consent_id: str
        started_at: datetime
        actor_id: str
        request_id: str

    @event(Started)
    def __init__(
        self,
        *,
        id: UUID,
        user_id: str,
        pan_hash: str,
        with_aadhaar: bool,
        consent_id: str,
        started_at: datetime,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.user_id = user_id
        self.attempt = 1
        self._begin(pan_hash, with_aadhaar, consent_id, started_at)
        self.provider_event_ids: list[str] = []

    def _begin(self, pan_hash: str, with_aadhaar: bool, consent_id: str, started_at: datetime) -> None:
        self.pan_hash = pan_hash
        self.with_aadhaar = with_aadhaar
        self.consent_id = consent_id
        self.status = KycStatus.PENDING
        self.tier: str | None = None
        self.kra_ref: str | None = None
        self.ckyc_no: str | None = None
        self.updated_at = started_at

    @property
    def process_token(self) -> str:
        return process_token_for(self.id, self.attempt)

    def restart(
        self,
        *,
        pan_hash: str,
        with_aadhaar: bool,
        consent_id: str,
        started_at: datetime,
        actor_id: str,
        request_id: str,
        consent_renewed: bool = False,
    ) -> bool:
        """A rejected investor may try again (a new attempt, a new process token), and so may one whose
        pending check lost its consent (revoked, then given again). Otherwise no change."""
        retry_pending = consent_renewed and self.status is KycStatus.PENDING
        if self.status is not KycStatus.REJECTED and not retry_pending:
            return False
        self._restarted(
            attempt=self.attempt + 1,
            pan_hash=pan_hash,
            with_aadhaar=with_aadhaar,
            consent_id=consent_id,
            started_at=started_at,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class Restarted(Aggregate.Event):
        attempt: int
        pan_hash: str
        with_aadhaar: bool
        consent_id: str
        started_at: datetime
        actor_id: str
        request_id: str

    @event(Restarted)
    def _restarted(
        self,
        *,
        attempt: int,
        pan_hash: str,
        with_aadhaar: bool,
        consent_id: str,
        started_at: datetime,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.attempt = attempt
        self._begin(pan_hash, with_aadhaar, consent_id, started_at)

    def record_provider_result(
        self,
        *,
        provider_event_id: str,
        process_token: str,
        verified: bool,
        tier: str | None,
        kra_ref: str | None,
        ckyc_no: str | None,
        decided_at: datetime,
        actor_id: str,
        request_id: str,
    ) -> bool:
        """Apply the provider's answer once. A redelivered event, an answer for an earlier attempt or
        for a case already decided changes nothing (returns False)."""
        if provider_event_id in self.provider_event_ids:
            return False
        if process_token != self.process_token or self.status is not KycStatus.PENDING:
            return False
        if verified:
            self._verified(
                provider_event_id=provider_event_id,
                tier=tier or KycTier.BASIC.value,
                kra_ref=kra_ref,
                ckyc_no=ckyc_no,
                decided_by="provider",
                decided_at=decided_at,
                actor_id=actor_id,
                request_id=request_id,
            )
        else:
            self._rejected(
                provider_event_id=provider_event_id,
                kra_ref=kra_ref,
                decided_at=decided_at,
                actor_id=actor_id,
                request_id=request_id,
            )
        return True

    def approve_manually(
        self, *, tier: str, reason: str, decided_at: datetime, actor_id: str, request_id: str
    ) -> bool:
        """An admin's manual verification (e.g. after a provider review). Separation of duties: never
        the investor themself."""
        ensure_not_own_kyc(actor_id, self.user_id)
        if self.status is KycStatus.VERIFIED:
            return False
        self._verified(
            provider_event_id=None,
            tier=tier,
            kra_ref=None,
            ckyc_no=None,
            decided_by=f"manual: {reason}",
            decided_at=decided_at,
            actor_id=actor_id,
            request_id=request_id,
        )
        return True

    class Verified(Aggregate.Event):
        provider_event_id: str | None
        tier: str
        kra_ref: str | None
        ckyc_no: str | None
        decided_by: str
        decided_at: datetime
        actor_id: str
        request_id: str

    @event(Verified)
    def _verified(
        self,
        *,
        provider_event_id: str | None,
        tier: str,
        kra_ref: str | None,
        ckyc_no: str | None,
        decided_by: str,
        decided_at: datetime,
        actor_id: str,
        request_id: str,
    ) -> None:
        if provider_event_id is not None:
            self.provider_event_ids.append(provider_event_id)
        self.status = KycStatus.VERIFIED
        self.tier = tier
        self.kra_ref = kra_ref
        self.ckyc_no = ckyc_no
        self.updated_at = decided_at

    class Rejected(Aggregate.Event):
        provider_event_id: str
        kra_ref: str | None
        decided_at: datetime
        actor_id: str
        request_id: str

    @event(Rejected)
    def _rejected(
        self,
        *,
        provider_event_id: str,
        kra_ref: str | None,
        decided_at: datetime,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.provider_event_ids.append(provider_event_id)
        self.status = KycStatus.REJECTED
        self.tier = None
        self.kra_ref = kra_ref
        self.updated_at = decided_at
