"""The User aggregate: registered, activated (KYC verified), suspended, personal data erased.

Personal fields arrive already sealed with the investor's data key (`bondflow.security.pii`): the aggregate only
holds ciphertext and the keyed email hash its id is derived from. Pure: no I/O, no clock of its own.
Event class paths (`bondflow.domain.users:User.Registered`, …) are stored data: never move or rename them.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from bondflow.domain.ids import derived_id
from bondflow.errors import Forbidden, InvalidRequest

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024  # a megabyte "password" is a denial-of-service attempt on Argon2


def _refuse(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {message}", {"fields": {field: message}})


class UserStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"


class InvestorCategory(StrEnum):
    RETAIL = "retail"
    HNI = "hni"
    INSTITUTIONAL = "institutional"

    @classmethod
    def parse(cls, raw: object, field: str = "investor_category") -> InvestorCategory:
        if not isinstance(raw, str) or raw not in {c.value for c in cls}:  # a dict or list is unhashable
            raise _refuse(field, "must be retail, hni or institutional")
        return cls(str(raw))


def parse_email(raw: object, field: str = "email") -> str:
    """A syntactically valid address, normalised to lower case (the form its lookup hash is taken of)."""
    if not isinstance(raw, str) or len(raw) > 254 or not _EMAIL.match(raw.strip()):
        raise _refuse(field, "must be a valid email address")
    return raw.strip().lower()


def parse_phone(raw: object, field: str = "phone") -> str:
    if not isinstance(raw, str) or not _E164.match(raw):
        raise _refuse(field, "must be an E.164 number such as +919812345678")
    return raw


def parse_residency(raw: object, field: str = "residency") -> str:
    """An ISO 3166-1 alpha-2 country code (upper case)."""
    if not isinstance(raw, str) or not _COUNTRY.match(raw):
        raise _refuse(field, "must be an ISO 3166-1 alpha-2 country code such as IN")
    return raw


def parse_password(raw: object, field: str = "password") -> str:
    if not isinstance(raw, str) or not PASSWORD_MIN_LENGTH <= len(raw) <= PASSWORD_MAX_LENGTH:
        raise _refuse(field, f"must be a string of {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters")
    return raw


def user_id_for(email_hash: str) -> UUID:
    """The user id is derived from the email's keyed hash: a second sign-up collides on the aggregate id."""
    return derived_id("user", email_hash)


class User(Aggregate):
    class Registered(Aggregate.Created):
        email_hash: str
        email_sealed: str
        phone_sealed: str | None
        password_hash_sealed: str
        residency: str
        investor_category: str
        registered_at: datetime
        actor_id: str
        request_id: str

    @event(Registered)
    def __init__(
        self,
        *,
        id: UUID,
        email_hash: str,
        email_sealed: str,
        phone_sealed: str | None,
        password_hash_sealed: str,
        residency: str,
        investor_category: str,
        registered_at: datetime,
        actor_id: str,
        request_id: str,
    ) -> None:
        self.email_hash = email_hash
        self.email_sealed: str | None = email_sealed
        self.phone_sealed = phone_sealed
        self.password_hash_sealed: str | None = password_hash_sealed
        self.residency = residency
        self.investor_category = investor_category
        self.registered_at = registered_at
        self.status = UserStatus.PENDING
        self.erased = False
        self.evidenced_category: str | None = None  # the declared category counts only with evidence

    @property
    def effective_category(self) -> str:
        """The category eligibility rules see: what evidence supports (the KYC provider's answer or an
        admin's approval), else retail, whatever was declared at sign-up."""
        return self.evidenced_category or InvestorCategory.RETAIL.value

    def evidence_category(
        self, *, category: str, source: str, reference: str, actor_id: str, request_id: str
    ) -> bool:
        """Record evidence for an investor category; never approved by the investor themself (separation
        of duties). Returns whether anything changed."""
        InvestorCategory.parse(category)
        if actor_id == str(self.id):
            raise Forbidden(
                "separation of duties: you cannot approve your own investor category",
                {"rule": "no_self_category_approval"},
            )
        if self.evidenced_category == category:
            return False
        self._category_evidenced(
            category=category, source=source, reference=reference, actor_id=actor_id, request_id=request_id
        )
        return True

    class InvestorCategoryEvidenced(Aggregate.Event):
        category: str
        source: str
        reference: str
        actor_id: str
        request_id: str

    @event(InvestorCategoryEvidenced)
    def _category_evidenced(
        self, *, category: str, source: str, reference: str, actor_id: str, request_id: str
    ) -> None:
        self.evidenced_category = category

    def activate(self, *, reason: str, actor_id: str, request_id: str) -> bool:
        """Pending → active (KYC verified). Returns whether anything changed."""
        if self.status is not UserStatus.PENDING:
            return False
        self._activated(reason=reason, actor_id=actor_id, request_id=request_id)
        return True

    class Activated(Aggregate.Event):
        reason: str
        actor_id: str
        request_id: str

    @event(Activated)
    def _activated(self, *, reason: str, actor_id: str, request_id: str) -> None:
        self.status = UserStatus.ACTIVE

    def suspend(self, *, reason: str, actor_id: str, request_id: str) -> None:
        if self.status is not UserStatus.SUSPENDED:
            self._suspended(reason=reason, actor_id=actor_id, request_id=request_id)

    class Suspended(Aggregate.Event):
        reason: str
        actor_id: str
        request_id: str

    @event(Suspended)
    def _suspended(self, *, reason: str, actor_id: str, request_id: str) -> None:
        self.status = UserStatus.SUSPENDED

    def erase_personal_data(self, *, actor_id: str, request_id: str) -> bool:
        """Forget the sealed fields (the data key is destroyed beside this). Idempotent."""
        if self.erased:
            return False
        self._erased(actor_id=actor_id, request_id=request_id)
        return True

    class PersonalDataErased(Aggregate.Event):
        actor_id: str
        request_id: str

    @event(PersonalDataErased)
    def _erased(self, *, actor_id: str, request_id: str) -> None:
        self.email_sealed = None
        self.phone_sealed = None
        self.password_hash_sealed = None
        self.erased = True
