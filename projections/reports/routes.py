"""`GET /v1/reports/{trades,positions,tds,corporate-actions}?from=&to=&format=csv|parquet` for `reports:read`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from bondflow.api.deps import ContainerDep, CurrentPrincipal, IsoDate, MinPosition, require_scope
from bondflow.errors import InvalidRequest
from bondflow.security.principal import Principal
from projections.base.waiting import await_positions
from projections.reports import extracts as reports

router = APIRouter(prefix="/v1/reports", tags=["reports"])

ReportsReader = Annotated[Principal, Depends(require_scope("reports:read"))]
MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
Report = Annotated[Literal["trades", "positions", "tds", "corporate-actions"], Path()]


async def _report_caught_up(
    report: Report, container: ContainerDep, _principal: CurrentPrincipal, min_position: MinPosition = None
) -> None:
    await await_positions(container, reports.READ_MODELS[report], min_position)


@router.get("/{report}", dependencies=[Depends(_report_caught_up)])
def get_report(
    report: Report,
    _principal: ReportsReader,
    container: ContainerDep,
    from_: Annotated[IsoDate, Query(alias="from")],
    to: Annotated[IsoDate, Query()],
    format: Annotated[Literal["csv", "parquet"], Query()] = "csv",
) -> Response:
    if from_ > to:
        raise InvalidRequest("from must not be after to", {"fields": {"from": "after 'to'"}})
    columns = reports.COLUMNS[report]
    rows = reports.rows_for(container.db, report, from_, to)
    body = reports.as_csv(columns, rows) if format == "csv" else reports.as_parquet(columns, rows)
    checkpoint = reports.covering_checkpoint(container.db) or {}
    headers = {
        "Content-Disposition": f'attachment; filename="bondflow-{report}-{from_}-{to}.{format}"',
        "X-BF-Rows": str(len(rows)),
        "X-BF-Stream-Head-Seq": str(checkpoint.get("stream_head_seq", 0)),
    }
    if checkpoint.get("seq") is not None:
        headers |= {
            "X-BF-Checkpoint-Seq": str(checkpoint["seq"]),
            "X-BF-Checkpoint-Root": checkpoint["merkle_root"],
            "X-BF-Checkpoint-Signature": checkpoint["signature"],
            "X-BF-Checkpoint-Kid": checkpoint["kid"],
        }
    return Response(body, media_type=MEDIA[format], headers=headers)
