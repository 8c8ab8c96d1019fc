"""Investor documents: `GET /v1/trades/{trade_id}/contract-note?format=json|pdf` and
`GET /v1/portfolio/statements?from=&to=&format=json|pdf` (own resources only, `portfolio:read`)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from bondflow.api.deps import ContainerDep, RequestId, require_scope
from bondflow.api.envelope import ok
from bondflow.errors import InvalidRequest
from bondflow.security.principal import Principal
from projections.base.waiting import caught_up
from projections.documents import contract_notes, statements
from projections.documents import pdf as pdf_documents

router = APIRouter(prefix="/v1", tags=["documents"])

PortfolioReader = Annotated[Principal, Depends(require_scope("portfolio:read"))]
Format = Annotated[Literal["json", "pdf"], Query()]
PDF = "application/pdf"
MAX_DAYS = 3660


def _pdf(body: bytes, filename: str) -> Response:
    return Response(body, media_type=PDF, headers={"Content-Disposition": f'inline; filename="{filename}"'})


@router.get(
    "/trades/{trade_id}/contract-note",
    response_model=None,
    dependencies=[caught_up("trades_view", "instruments_view")],
)
def get_contract_note(
    trade_id: Annotated[str, Path(max_length=64)],
    principal: PortfolioReader,
    container: ContainerDep,
    request_id: RequestId,
    format: Format = "json",
) -> Response:
    note = contract_notes.contract_note(container.db, principal.subject, trade_id)
    if format == "pdf":
        return _pdf(pdf_documents.contract_note_pdf(note), f"contract-note-{note['contract_note_no']}.pdf")
    return ok(note, request_id, units="INR; prices per 100 face")


@router.get(
    "/portfolio/statements",
    response_model=None,
    dependencies=[caught_up("trades_view", "instruments_view", "corporate_actions_view")],
)
def get_statement(
    principal: PortfolioReader,
    container: ContainerDep,
    request_id: RequestId,
    from_: Annotated[date, Query(alias="from")],
    to: Annotated[date, Query()],
    format: Format = "json",
) -> Response:
    if from_ > to or (to - from_).days > MAX_DAYS:
        raise InvalidRequest(
            "from must not be after to, and the period at most ten years", {"fields": {"from": "invalid"}}
        )
    data = statements.statement(container.db, principal.subject, from_, to)
    if format == "pdf":
        return _pdf(pdf_documents.statement_pdf(data), f"statement-{from_}-{to}.pdf")
    return ok(data, request_id, units="INR; prices per 100 face")
