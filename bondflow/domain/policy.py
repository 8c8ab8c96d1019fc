"""Authorisation rules beyond scopes: attribute checks (ABAC) and separation of duties. Pure functions.

Attributes are residency, investor category and KYC status and tier. Every command can state what it
needs as a `Requirement` and call `check_attributes`; a refusal is `BF-KYC-002` naming the attribute.
Separation of duties: an admin never verifies their own KYC, an operator never acts on their own trades.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bondflow.errors import Forbidden, KycNotEligible

TIER_ORDER = ("basic", "full")


@dataclass(frozen=True, slots=True)
class InvestorAttributes:
    residency: str | None
    investor_category: str | None
    kyc_status: str
    kyc_tier: str | None

    def as_claims(self) -> dict[str, str]:
        claims = {"kyc_status": self.kyc_status}
        for name in ("residency", "investor_category", "kyc_tier"):
            value = getattr(self, name)
            if value is not None:
                claims[name] = value
        return claims


@dataclass(frozen=True, slots=True)
class Requirement:
    residencies: frozenset[str] | None = None
    investor_categories: frozenset[str] | None = None
    kyc_verified: bool = False
    min_kyc_tier: str | None = None


def _tier_rank(tier: str | None) -> int:
    return TIER_ORDER.index(tier) + 1 if tier in TIER_ORDER else 0


def check_attributes(attributes: InvestorAttributes, requirement: Requirement) -> None:
    """Raise `KycNotEligible` (BF-KYC-002) naming the first attribute that does not qualify."""
    if requirement.kyc_verified and attributes.kyc_status != "verified":
        raise KycNotEligible(
            "KYC is not verified", {"attribute": "kyc_status", "actual": attributes.kyc_status}
        )
    if requirement.min_kyc_tier is not None and _tier_rank(attributes.kyc_tier) < _tier_rank(
        requirement.min_kyc_tier
    ):
        raise KycNotEligible(
            f"KYC tier {requirement.min_kyc_tier} is required",
            {"attribute": "kyc_tier", "required": requirement.min_kyc_tier, "actual": attributes.kyc_tier},
        )
    if requirement.residencies is not None and attributes.residency not in requirement.residencies:
        raise KycNotEligible(
            "not eligible for this residency",
            {
                "attribute": "residency",
                "allowed": sorted(requirement.residencies),
                "actual": attributes.residency,
            },
        )
    if (
        requirement.investor_categories is not None
        and attributes.investor_category not in requirement.investor_categories
    ):
        raise KycNotEligible(
            "not eligible for this investor category",
            {
                "attribute": "investor_category",
                "allowed": sorted(requirement.investor_categories),
                "actual": attributes.investor_category,
            },
        )


def ensure_not_own_kyc(actor_id: str, kyc_user_id: str) -> None:
    if actor_id == kyc_user_id:
        raise Forbidden(
            "separation of duties: you cannot verify your own KYC", {"rule": "no_self_kyc_approval"}
        )


def ensure_not_own_trade(actor_id: str, trade_party_ids: Iterable[str]) -> None:
    """For the ops break-resolution commands: an operator cannot act on a trade they are a party to."""
    if actor_id in set(trade_party_ids):
        raise Forbidden(
            "separation of duties: you cannot act on your own trade", {"rule": "no_self_trade_resolution"}
        )


def ensure_not_own_payment(actor_id: str, payment_owner_id: str) -> None:
    """For the ops payment-break resolution: an operator cannot resolve a payment of their own account."""
    if actor_id == payment_owner_id:
        raise Forbidden(
            "separation of duties: you cannot resolve your own payment",
            {"rule": "no_self_payment_resolution"},
        )
