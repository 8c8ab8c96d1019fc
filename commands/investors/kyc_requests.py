"""The KYC requests as the handlers take them: an investor's start (PAN, Aadhaar's last four, consent) and
the provider's signed result, each parsed and checked before anything is recorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bondflow.domain.consent import KYC_PURPOSE
from bondflow.domain.kyc import KycTier, parse_aadhaar_last4, parse_pan
from bondflow.domain.users import InvestorCategory
from bondflow.errors import InvalidRequest
from commands.investors.users import only_fields
from commands.kernel.bodies import exact_json

_REF_MAX = 64


@dataclass(frozen=True, slots=True, repr=False)
class StartKyc:
    pan: str
    aadhaar_last4: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> StartKyc:
        only_fields(body, {"pan", "aadhaar_last4", "consent"}, {"pan", "consent"})
        if body["consent"] is not True:
            raise InvalidRequest(
                "consent: KYC needs your consent (true) for the purpose kyc_verification",
                {"fields": {"consent": "must be true"}, "purpose": KYC_PURPOSE},
            )
        last4 = body.get("aadhaar_last4")
        return cls(parse_pan(body["pan"]), None if last4 is None else parse_aadhaar_last4(last4))

    def __repr__(self) -> str:
        return "StartKyc(…)"


@dataclass(frozen=True, slots=True)
class ProviderResult:
    event_id: str
    process_token: str
    verified: bool
    tier: str | None
    kra_ref: str | None
    ckyc_no: str | None
    investor_category: str | None = None  # the provider's evidence of a category other than retail

    @classmethod
    def from_raw(cls, raw: bytes) -> ProviderResult:
        body = exact_json(raw, "webhook body")
        only_fields(
            body,
            {"event_id", "process_token", "status", "tier", "kra_ref", "ckyc_no", "investor_category"},
            {"event_id", "process_token", "status"},
        )
        status = body["status"]
        if status not in ("verified", "rejected"):
            raise InvalidRequest(
                "status: must be verified or rejected", {"fields": {"status": "verified or rejected"}}
            )
        tier = body.get("tier")
        return cls(
            event_id=_text(body["event_id"], "event_id", 128),
            process_token=_text(body["process_token"], "process_token", 128),
            verified=status == "verified",
            tier=None if tier is None or status == "rejected" else KycTier.parse(tier).value,
            kra_ref=_optional_text(body.get("kra_ref"), "kra_ref"),
            ckyc_no=_optional_text(body.get("ckyc_no"), "ckyc_no"),
            investor_category=None
            if body.get("investor_category") is None
            else InvestorCategory.parse(body["investor_category"]).value,
        )


def _text(raw: object, field: str, limit: int) -> str:
    if not isinstance(raw, str) or not 1 <= len(raw) <= limit or not raw.isprintable():
        raise InvalidRequest(
            f"{field}: must be text of 1 to {limit} characters", {"fields": {field: "invalid"}}
        )
    return raw


def _optional_text(raw: object, field: str) -> str | None:
    return None if raw is None else _text(raw, field, _REF_MAX)
