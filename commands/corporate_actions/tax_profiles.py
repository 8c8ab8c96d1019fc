"""The facts TDS depends on, read from the holder's own aggregates: residency and category (User), a PAN
on record (a verified KYC case: the provider verified the PAN), and the 15G/15H declarations filed.

A holder with no BondFlow account (a token-only principal) has no PAN on record: resident, retail, no PAN
(the s.206AA rate applies once the threshold is crossed)."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from bondflow.domain.kyc import KycCase, KycStatus, case_id_for
from bondflow.domain.tax_declarations import TaxDeclaration, declaration_id
from bondflow.domain.tds import TaxProfile
from bondflow.domain.users import User
from bondflow.runtime.eventstore import EventStore


class TaxProfiles:
    def __init__(self, store: EventStore) -> None:
        self.store = store

    def profile(self, holder: str, financial_year: int) -> TaxProfile:
        declared = frozenset({financial_year}) if self.declaration(holder, financial_year) else frozenset()
        user = self._get(_uuid(holder))
        if not isinstance(user, User):
            return TaxProfile("IN", "retail", has_pan=False, declarations=declared)
        case = self._get(case_id_for(user.id))
        has_pan = isinstance(case, KycCase) and case.status is KycStatus.VERIFIED
        return TaxProfile(user.residency, user.investor_category, has_pan=has_pan, declarations=declared)

    def declaration(self, holder: str, financial_year: int) -> TaxDeclaration | None:
        found = self._get(declaration_id(holder, financial_year))
        return found if isinstance(found, TaxDeclaration) else None

    def _get(self, aggregate_id: UUID | None) -> object:
        if aggregate_id is None:
            return None
        try:
            return self.store.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None
