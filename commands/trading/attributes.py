"""Where attribute checks get their facts: the investor's own aggregates in the event store (current,
not as of token issue), or the token's claims for principals without a BondFlow account (OIDC, staff)."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from bondflow.domain.kyc import KycCase, KycStatus, case_id_for
from bondflow.domain.policy import InvestorAttributes
from bondflow.domain.users import User
from bondflow.runtime.eventstore import EventStore
from bondflow.security.principal import Principal


class AttributeReader:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    def of(self, principal: Principal) -> InvestorAttributes:
        user = self._user(principal.subject)
        if user is not None:
            return self.of_user(user)
        claims = principal.attributes
        return InvestorAttributes(
            residency=claims.get("residency"),
            investor_category=claims.get("investor_category"),
            kyc_status=claims.get("kyc_status", KycStatus.NOT_STARTED.value),
            kyc_tier=claims.get("kyc_tier"),
        )

    def of_user(self, user: User) -> InvestorAttributes:
        case = self.kyc_case(user.id)
        return InvestorAttributes(
            residency=user.residency,
            investor_category=user.effective_category,
            kyc_status=KycStatus.NOT_STARTED.value if case is None else case.status.value,
            kyc_tier=None if case is None else case.tier,
        )

    def kyc_case(self, user_id: UUID) -> KycCase | None:
        return self.kyc_case_by_id(case_id_for(user_id))

    def kyc_case_by_id(self, case_id: UUID) -> KycCase | None:
        try:
            case: object = self.store.repository.get(case_id)
        except AggregateNotFoundError:
            return None
        return case if isinstance(case, KycCase) else None

    def _user(self, subject: str) -> User | None:
        try:
            user: object = self.store.repository.get(UUID(subject))
        except (ValueError, AggregateNotFoundError):
            return None
        return user if isinstance(user, User) else None
