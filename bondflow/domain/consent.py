"""The Consent aggregate (DPDP): what an investor agreed to, for which purposes, and its hash.

Event class paths (`bondflow.domain.consent:Consent.Granted`, …) are stored data: never move them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.ids import derived_id

KYC_PURPOSE = "kyc_verification"
KYC_CONSENT_TEXT_VERSION = "kyc-consent-2026-01"


def consent_id_for(user_id: UUID, purpose: str) -> UUID:
    return derived_id("consent", str(user_id), purpose)


def consent_hash(user_id: UUID, purposes: list[str], text_version: str, granted_at: datetime) -> str:
    """The consent artefact's fingerprint (the brief: "consent hash saved")."""
    material = "\x1f".join([str(user_id), ",".join(sorted(purposes)), text_version, granted_at.isoformat()])
    return hashlib.sha256(material.encode()).hexdigest()


class Consent(Aggregate):
    class Granted(Aggregate.Created):
        user_id: str
        purposes: list[str]
        text_version: str
        consent_hash: str
        granted_at: datetime
        actor_id: str
        request_id: str

    @event(Granted)
    def __init__(
        self,
        *,
        id: UUID,
        user_id: str,
        purposes: list[str],
        text_version: str,
        consent_hash: str,
        granted_at: datetime,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.user_id = user_id
        self.purposes = purposes
        self.text_version = text_version
        self.consent_hash = consent_hash
        self.active = True

    def revoke(self, *, purposes: list[str], actor_id: str, request_id: str) -> None:
        if self.active:
            self._revoked(purposes=purposes, actor_id=actor_id, request_id=request_id)

    class Revoked(Aggregate.Event):
        purposes: list[str]
        actor_id: str
        request_id: str

    @event(Revoked)
    def _revoked(self, *, purposes: list[str], actor_id: str, request_id: str) -> None:
        self.active = False

    def grant_again(self, *, text_version: str, consent_hash: str, actor_id: str, request_id: str) -> None:
        if not self.active:
            self._regranted(
                text_version=text_version, consent_hash=consent_hash, actor_id=actor_id, request_id=request_id
            )

    class Regranted(Aggregate.Event):
        text_version: str
        consent_hash: str
        actor_id: str
        request_id: str

    @event(Regranted)
    def _regranted(self, *, text_version: str, consent_hash: str, actor_id: str, request_id: str) -> None:
        self.text_version = text_version
        self.consent_hash = consent_hash
        self.active = True
