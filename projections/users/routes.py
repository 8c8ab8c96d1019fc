"""Investor query routes: own profile (sealed fields opened with the investor's data key) and KYC status."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends

from bondflow.api.deps import ContainerDep, CurrentPrincipal, RequestId, require_scope
from bondflow.api.envelope import EnvelopeResponse, ok
from bondflow.domain.kyc import KycStatus
from bondflow.errors import NotFound
from bondflow.security.pii import open_optional
from bondflow.security.principal import Principal
from projections.base.waiting import caught_up
from projections.users import queries as users_queries

router = APIRouter(prefix="/v1", tags=["investors"])

KycReader = Annotated[Principal, Depends(require_scope("kyc:read"))]


def _own_user_id(principal: Principal) -> UUID:
    try:
        return UUID(principal.subject)
    except ValueError:
        raise NotFound("no user account for this token", {}) from None


@router.get("/users/me", dependencies=[caught_up("users_view")])
def get_me(
    principal: CurrentPrincipal,
    container: ContainerDep,
    request_id: RequestId,
) -> EnvelopeResponse:
    user_id = _own_user_id(principal)
    row = users_queries.get_profile(container.db, user_id)
    if row is None:
        raise NotFound("no user account for this token", {})
    opened = open_optional(
        container.investors.vault, user_id, {"email": row.email_sealed, "phone": row.phone_sealed}
    )
    kyc = users_queries.get_kyc_status(container.db, user_id)
    data: dict[str, Any] = {
        "user_id": row.user_id,
        "email": opened["email"],
        "phone": opened["phone"],
        "residency": row.residency,
        "investor_category": row.investor_category,
        "status": row.status,
        "role": principal.role.value,
        "kyc": {
            "status": KycStatus.NOT_STARTED.value if kyc is None else kyc.status,
            "tier": None if kyc is None else kyc.tier,
        },
        "personal_data_erased": row.erased_at is not None,
        "created_at": row.registered_at,
        "updated_at": row.updated_at,
    }
    return ok(data, request_id)


@router.get("/kyc/status", dependencies=[caught_up("users_view")])
def get_kyc_status(principal: KycReader, container: ContainerDep, request_id: RequestId) -> EnvelopeResponse:
    row = users_queries.get_kyc_status(container.db, _own_user_id(principal))
    if row is None:
        data: dict[str, Any] = {"status": KycStatus.NOT_STARTED.value, "tier": None, "updated_at": None}
    else:
        data = {
            "status": row.status,
            "tier": row.tier,
            "updated_at": row.updated_at,
            "process_token": row.process_token,
            "kra_ref": row.kra_ref,
            "ckyc_no": row.ckyc_no,
        }
    return ok(data, request_id)
