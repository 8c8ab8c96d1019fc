"""KYC commands: start (with consent), the provider's signed webhook, and an admin's manual approval."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from bondflow.domain.consent import (
    KYC_CONSENT_TEXT_VERSION,
    KYC_PURPOSE,
    Consent,
    consent_hash,
    consent_id_for,
)
from bondflow.domain.kyc import (
    KycCase,
    KycStatus,
    KycTier,
    case_id_for,
    case_id_of_token,
)
from bondflow.domain.policy import ensure_not_own_kyc
from bondflow.domain.users import InvestorCategory, User
from bondflow.errors import NotFound, PanAlreadyVerified
from bondflow.runtime.clock import Clock
from bondflow.runtime.eventstore import EventStore, position_of
from bondflow.security.pii import Vault
from bondflow.security.verified_pans import VerifiedPans
from bondflow.security.webhooks import WebhookVerifier
from bondflow.workers.kyc import KycHandoff
from commands.investors.kyc_requests import ProviderResult, StartKyc
from commands.investors.users import UserCommands
from commands.kernel.conflicts import decide_and_save
from commands.kernel.context import Accepted, CommandContext
from commands.trading.attributes import AttributeReader

PROVIDER_ACTOR = "kyc-provider"


class KycCommands:
    def __init__(
        self,
        store: EventStore,
        vault: Vault,
        handoff: KycHandoff,
        verifier: WebhookVerifier,
        users: UserCommands,
        attributes: AttributeReader,
        clock: Clock,
        pans: VerifiedPans,
    ) -> None:
        self.pans = pans
        self.store = store
        self.vault = vault
        self.handoff = handoff
        self.verifier = verifier
        self.users = users
        self.attributes = attributes
        self.clock = clock

    def start(self, command: StartKyc, ctx: CommandContext) -> Accepted:
        user = self.users.own_user(ctx.actor_id)
        if user.erased:
            raise NotFound("no user account for this token", {})
        now = self.clock.now()
        pan_hash = self.vault.lookup_hash("pan", command.pan)
        if self.pans.held_by_another(pan_hash, user.id):
            raise PanAlreadyVerified(
                "this PAN is already verified for another account: one PAN, one verified account",
                {"rule": "one_pan_one_verified_account"},
            )
        consent, renewed = self._consent(user, now, ctx)
        case = self.attributes.kyc_case(user.id)
        with_aadhaar = command.aadhaar_last4 is not None
        if case is None:
            case = KycCase(
                id=case_id_for(user.id),
                user_id=str(user.id),
                pan_hash=pan_hash,
                with_aadhaar=with_aadhaar,
                consent_id=str(consent.id),
                started_at=now,
                actor_id=ctx.actor_id,
                request_id=ctx.request_id,
            )
        elif not case.restart(
            pan_hash=pan_hash,
            with_aadhaar=with_aadhaar,
            consent_id=str(consent.id),
            started_at=now,
            actor_id=ctx.actor_id,
            request_id=ctx.request_id,
            consent_renewed=renewed,
        ):
            return self._current(case)  # already pending or verified: starting again changes nothing
        self.handoff.put(case.process_token, user.id, command.pan, command.aadhaar_last4)
        try:
            position = self.store.save_and_position(case, consent)
        except IntegrityError:  # a concurrent start won: answer with its case
            latest = self.attributes.kyc_case(user.id)
            if latest is None:  # pragma: no cover - the collision means the case exists
                raise
            return self._current(latest)
        return Accepted({"process_token": case.process_token, "status": case.status.value}, position)

    def receive_webhook(self, headers: Mapping[str, str], raw: bytes, request_id: str) -> Accepted:
        """Verify the signature, timestamp and nonce, then apply the provider's result exactly once."""
        self.verifier.verify(headers, raw)
        result = ProviderResult.from_raw(raw)
        case_id = case_id_of_token(result.process_token)

        def attempt() -> Accepted:
            case = self._case(case_id)
            applied = case.record_provider_result(
                provider_event_id=result.event_id,
                process_token=result.process_token,
                # a PAN another account is verified with fails here, whatever the provider says
                verified=result.verified and self.pans.claim(case.pan_hash, UUID(case.user_id)),
                tier=result.tier,
                kra_ref=result.kra_ref,
                ckyc_no=result.ckyc_no,
                decided_at=self.clock.now(),
                actor_id=PROVIDER_ACTOR,
                request_id=request_id,
            )
            if not applied:  # a redelivery, or an answer for an earlier attempt: no effect
                position = position_of(self.store, case.id, case.version) or 0
                return Accepted(self._webhook_data(result, case, applied=False), position)
            changed: list[Any] = [case]
            user = self._activated_user(case, request_id, evidence=result)
            if user is not None:
                changed.append(user)
            position = self.store.save_and_position(*changed)  # a concurrent delivery collides here
            self.handoff.forget(result.process_token)
            return Accepted(self._webhook_data(result, case, applied=True), position)

        return decide_and_save(attempt, what="the KYC case", details={"process_token": result.process_token})

    def approve(self, user_id: UUID, tier: KycTier, reason: str, ctx: CommandContext) -> Accepted:
        """Manual verification by an admin, never of their own KYC (separation of duties)."""
        ensure_not_own_kyc(ctx.actor_id, str(user_id))
        case = self._case(case_id_for(user_id))
        if case.status is not KycStatus.VERIFIED and not self.pans.claim(case.pan_hash, user_id):
            raise PanAlreadyVerified(
                "this PAN is already verified for another account: one PAN, one verified account",
                {"rule": "one_pan_one_verified_account"},
            )
        if not case.approve_manually(
            tier=tier.value,
            reason=reason,
            decided_at=self.clock.now(),
            actor_id=ctx.actor_id,
            request_id=ctx.request_id,
        ):
            return self._current(case)
        changed: list[Any] = [case]
        user = self._activated_user(case, ctx.request_id, actor_id=ctx.actor_id)
        if user is not None:
            changed.append(user)
        position = self.store.save_and_position(*changed)
        return Accepted({"process_token": case.process_token, "status": case.status.value}, position)

    def revoke_consent(self, purpose: str, ctx: CommandContext) -> Accepted:
        """The investor withdraws a consent (DPDP). For KYC: a PAN still waiting for the provider is deleted
        and never sent; a verification already done stays on record (a regulatory record); a new
        `kyc/start` with consent gives it again and starts a fresh attempt."""
        user = self.users.own_user(ctx.actor_id)
        consent = self._existing_consent(user.id, purpose)
        if consent.active:
            consent.revoke(purposes=[purpose], actor_id=ctx.actor_id, request_id=ctx.request_id)
            position = self.store.save_and_position(consent)
        else:  # revoked already: nothing changes
            position = position_of(self.store, consent.id, consent.version) or 0
        if purpose == KYC_PURPOSE:
            self.handoff.forget_user(user.id)
        return Accepted({"purpose": purpose, "active": False, "consent_hash": consent.consent_hash}, position)

    def _existing_consent(self, user_id: UUID, purpose: str) -> Consent:
        try:
            consent: object = self.store.repository.get(consent_id_for(user_id, purpose))
        except AggregateNotFoundError:
            raise NotFound("no consent for this purpose", {"purpose": purpose}) from None
        if not isinstance(consent, Consent):  # pragma: no cover - ids are namespaced by kind
            raise TypeError(f"consent for {purpose} is not a Consent")
        return consent

    def _consent(self, user: User, now: datetime, ctx: CommandContext) -> tuple[Consent, bool]:
        """The investor's consent for KYC verification: granted once, granted again after a revocation
        (then True: the consent was renewed)."""
        consent_id = consent_id_for(user.id, KYC_PURPOSE)
        fingerprint = consent_hash(user.id, [KYC_PURPOSE], KYC_CONSENT_TEXT_VERSION, now)
        try:
            consent: object = self.store.repository.get(consent_id)
        except AggregateNotFoundError:
            granted = Consent(
                id=consent_id,
                user_id=str(user.id),
                purposes=[KYC_PURPOSE],
                text_version=KYC_CONSENT_TEXT_VERSION,
                consent_hash=fingerprint,
                granted_at=now,
                actor_id=ctx.actor_id,
                request_id=ctx.request_id,
            )
            return granted, False
        if not isinstance(consent, Consent):  # pragma: no cover - ids are namespaced by kind
            raise TypeError(f"{consent_id} is not a Consent")
        renewed = not consent.active
        consent.grant_again(
            text_version=KYC_CONSENT_TEXT_VERSION,
            consent_hash=fingerprint,
            actor_id=ctx.actor_id,
            request_id=ctx.request_id,
        )
        return consent, renewed

    def _case(self, case_id: UUID | None) -> KycCase:
        case = None if case_id is None else self.attributes.kyc_case_by_id(case_id)
        if case is None:
            raise NotFound("KYC case not found", {})
        return case

    def _activated_user(
        self,
        case: KycCase,
        request_id: str,
        actor_id: str = PROVIDER_ACTOR,
        evidence: ProviderResult | None = None,
    ) -> User | None:
        """The investor, changed by a verification: activated, and with the category the provider attests."""
        if case.status is not KycStatus.VERIFIED:
            return None
        user = self.users.own_user(case.user_id)
        changed = user.activate(reason="kyc verified", actor_id=actor_id, request_id=request_id)
        if evidence is not None and evidence.investor_category not in (None, InvestorCategory.RETAIL.value):
            changed |= user.evidence_category(
                category=str(evidence.investor_category),
                source="kyc_provider",
                reference=evidence.event_id,
                actor_id=actor_id,
                request_id=request_id,
            )
        return user if changed else None

    def _current(self, case: KycCase) -> Accepted:
        position = position_of(self.store, case.id, case.version) or 0
        return Accepted({"process_token": case.process_token, "status": case.status.value}, position)

    @staticmethod
    def _webhook_data(result: ProviderResult, case: KycCase, *, applied: bool) -> dict[str, Any]:
        return {
            "event_id": result.event_id,
            "process_token": result.process_token,
            "status": case.status.value,
            "applied": applied,
        }
