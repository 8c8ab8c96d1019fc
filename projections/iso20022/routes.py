"""`GET /v1/reports/iso20022/{sese.023,sese.025,semt.002,seev.036,camt.053}?from=&to=` (`reports:read`):
ISO 20022 messages built from the read models. A JSON envelope lists every document of the period
(`{message, count, documents: [{id, xml}]}`); with `format=xml` and `id=` one document is answered as
`application/xml`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from bondflow.api.deps import ContainerDep, IsoDate, RequestId, require_scope
from bondflow.api.envelope import ok
from bondflow.errors import InvalidRequest, NotFound
from bondflow.security.principal import Principal
from projections.base.waiting import caught_up
from projections.iso20022 import feeds as iso20022_feeds
from projections.iso20022.messages import NS

router = APIRouter(prefix="/v1/reports/iso20022", tags=["reports"])

ReportsReader = Annotated[Principal, Depends(require_scope("reports:read"))]
Message = Literal["sese.023", "sese.025", "semt.002", "seev.036", "camt.053"]
MAX_DAYS = 366
ISO20022_READ_MODELS = ("trades_view", "instruments_view", "corporate_actions_view", "escrow_view")


@router.get("/{message}", response_model=None, dependencies=[caught_up(*ISO20022_READ_MODELS)])
def get_iso20022(
    message: Annotated[Message, Path()],
    _principal: ReportsReader,
    container: ContainerDep,
    request_id: RequestId,
    from_: Annotated[IsoDate, Query(alias="from")],
    to: Annotated[IsoDate, Query()],
    format: Annotated[Literal["json", "xml"], Query()] = "json",
    id: Annotated[str | None, Query(max_length=120, description="one document (with format=xml)")] = None,
) -> Response:
    if from_ > to or (to - from_).days > MAX_DAYS:
        raise InvalidRequest(
            "from must not be after to, and the period at most a year", {"fields": {"from": "invalid"}}
        )
    documents = iso20022_feeds.FEEDS[message](container.db, from_, to)
    if format == "xml":
        if id is None:
            raise InvalidRequest(
                "format=xml answers one document: give its id", {"fields": {"id": "required"}}
            )
        found = next((xml for doc_id, xml in documents if doc_id == id), None)
        if found is None:
            raise NotFound("no such document in the period", {"id": id})
        return Response(found, media_type="application/xml")
    data = {
        "message": NS[message].rsplit(":", 1)[1],
        "count": len(documents),
        "documents": [{"id": doc_id, "xml": xml.decode()} for doc_id, xml in documents],
    }
    return ok(data, request_id)
