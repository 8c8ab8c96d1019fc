"""Investor command routes: sign-up, token, erasure, KYC start, the provider's webhook, manual approval."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Request

from bondflow.api.client_ip import client_ip
from bondflow.api.deps import ContainerDep, CurrentPrincipal, JsonBody, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.api.policy_deps import require_attributes
from bondflow.domain.kyc import KycTier
from bondflow.domain.policy import Requirement
from bondflow.domain.users import InvestorCategory
from bondflow.errors import InvalidRequest
from bondflow.security.principal import Principal
from commands.investors.kyc_requests import StartKyc
from commands.investors.users import LogIn, SignUp, only_fields
from commands.kernel.context import CommandContext

router = APIRouter(prefix="/v1", tags=["investors"])

MAX_WEBHOOK_BYTES = 64 * 1024
# The KYC provider's e-KYC (PAN with KRA/CKYC, Aadhaar offline) serves Indian residents; others are
# onboarded outside the app for now.
KYC_PROVIDER_ELIGIBILITY = Requirement(residencies=frozenset({"IN"}))

KycWriter = Annotated[Principal, Depends(require_scope("kyc:write"))]
KycEligible = Annotated[Principal, Depends(require_attributes(KYC_PROVIDER_ELIGIBILITY))]
UsersAdmin = Annotated[Principal, Depends(require_scope("users:admin"))]


async def raw_body(request: Request) -> bytes:
    """The exact bytes a signature covers; the size is bounded before anything else is done."""
    raw = await request.body()
    if len(raw) > MAX_WEBHOOK_BYTES:
        raise InvalidRequest("body is too large", {"max_bytes": MAX_WEBHOOK_BYTES})
    return raw


ClientIp = Annotated[str, Depends(client_ip)]
RawBody = Annotated[bytes, Depends(raw_body)]


@router.post("/users", status_code=201)
def sign_up(body: JsonBody, container: ContainerDep, request_id: RequestId, ip: ClientIp) -> EnvelopeResponse:
    result = container.investors.users.sign_up(SignUp.from_body(body), client_ip=ip, request_id=request_id)
    return ok(result.data, request_id, status=201, position=result.position)


@router.post("/auth/token")
def issue_token(
    body: JsonBody, container: ContainerDep, request_id: RequestId, ip: ClientIp
) -> EnvelopeResponse:
    return ok(container.investors.users.log_in(LogIn.from_body(body), client_ip=ip), request_id)


@router.post("/users/me/erase", status_code=202)
def erase_me(principal: CurrentPrincipal, container: ContainerDep, request_id: RequestId) -> EnvelopeResponse:
    result = container.investors.users.erase(CommandContext(principal, request_id))
    return ok(result.data, request_id, status=202, position=result.position)


@router.post("/kyc/start", status_code=202)
def start_kyc(
    principal: KycWriter,
    body: JsonBody,
    _eligible: KycEligible,
    container: ContainerDep,
    request_id: RequestId,
) -> EnvelopeResponse:
    result = container.investors.kyc.start(StartKyc.from_body(body), CommandContext(principal, request_id))
    return ok(result.data, request_id, status=202, position=result.position)


@router.post("/users/me/consents/{purpose}/revoke", status_code=202)
def revoke_consent(
    purpose: Annotated[str, Path(max_length=64, pattern=r"^[a-z_]+$")],
    principal: KycWriter,
    container: ContainerDep,
    request_id: RequestId,
) -> EnvelopeResponse:
    result = container.investors.kyc.revoke_consent(purpose, CommandContext(principal, request_id))
    return ok(result.data, request_id, status=202, position=result.position)


@router.post("/kyc/webhook", status_code=202)
def kyc_webhook(
    request: Request, raw: RawBody, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    result = container.investors.kyc.receive_webhook(request.headers, raw, request_id)
    return ok(result.data, request_id, status=202, position=result.position)


@router.post("/admin/kyc/{user_id}/approve", status_code=202)
def approve_kyc(
    user_id: UUID, principal: UsersAdmin, body: JsonBody, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    only_fields(body, {"tier", "reason"}, {"tier", "reason"})
    reason = body["reason"]
    if not isinstance(reason, str) or not 3 <= len(reason) <= 500:
        raise InvalidRequest("reason: 3 to 500 characters", {"fields": {"reason": "3 to 500 characters"}})
    ctx = CommandContext(principal, request_id)
    result = container.investors.kyc.approve(user_id, KycTier.parse(body["tier"]), reason, ctx)
    return ok(result.data, request_id, status=202, position=result.position)


@router.post("/admin/users/{user_id}/investor-category", status_code=202)
def approve_investor_category(
    user_id: UUID, principal: UsersAdmin, body: JsonBody, container: ContainerDep, request_id: RequestId
) -> EnvelopeResponse:
    """An admin's evidence for a category other than retail (never for themself)."""
    only_fields(body, {"investor_category", "reason"}, {"investor_category", "reason"})
    reason = body["reason"]
    if not isinstance(reason, str) or not 3 <= len(reason) <= 500:
        raise InvalidRequest("reason: 3 to 500 characters", {"fields": {"reason": "3 to 500 characters"}})
    category = InvestorCategory.parse(body["investor_category"])
    ctx = CommandContext(principal, request_id)
    result = container.investors.users.evidence_category(user_id, category, reason, ctx)
    return ok(result.data, request_id, status=202, position=result.position)
