"""Who is acting: the subject, role and scopes from a verified token."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    INVESTOR = "investor"
    OPS = "ops"
    ADMIN = "admin"
    REGULATOR = "regulator"


ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.INVESTOR: frozenset(
        [
            "orders:read",
            "orders:write",
            "portfolio:read",
            "payments:read",
            "payments:write",
            "kyc:read",
            "kyc:write",
            "instruments:read",
            "analytics:read",
        ]
    ),
    Role.OPS: frozenset(
        ["ops:settlements", "orders:read", "reports:read", "instruments:read", "analytics:read"]
    ),
    Role.ADMIN: frozenset(["admin", "instruments:admin", "instruments:read", "users:admin"]),
    Role.REGULATOR: frozenset(["regulator:read", "reports:read"]),
}


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    role: Role
    scopes: frozenset[str]
    attributes: dict[str, str] = field(default_factory=dict)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def sees_only_own(self) -> bool:
        """Investors see only their own resources; staff roles with the read scope see all."""
        return self.role is Role.INVESTOR
